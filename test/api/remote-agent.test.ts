// A host agent on "another machine" (`npm run agent`, here in the same test
// process on loopback): it registers with the panel using an admin-created
// token, runs real VM processes, and refuses callers without its key.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { startStandaloneAgent, type StandaloneAgent } from '../../server/agent/standalone';
import { ROOT_DIR } from '../../server/config';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
let agent: StandaloneAgent;
let token: string;
let early: { id: string };

async function waitState(id: string, want: string, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    const s = (await panel.db.vm.findUniqueOrThrow({ where: { id } })).state;
    if (s === want) return;
    if (Date.now() > until) throw new Error(`VM is ${s}, expected ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  panel = await startPanel('sqlite'); // no local agent: the only host is the remote one
  setup = await withUsers(panel, 1);
  token = (await setup.admin.hosts.create.mutate({ name: 'node-2' })).token;
  // Created while no host is connected: recorded unplaced, placed when the agent registers.
  const image = await panel.db.image.create({ data: { name: 'early-guest', kind: 'test-guest', kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf') } });
  early = await setup.users[0]!.c.vm.create.mutate({ name: 'early', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
  agent = await startStandaloneAgent({
    PANEL_URL: panel.url, AGENT_TOKEN: token, PORT: '0', DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-agent2-')), REGISTER_INTERVAL_MS: '200',
  });
});
afterAll(async () => {
  await agent?.close({ stopVms: true });
  await panel.close();
});

describe('remote host agent', () => {
  it('stores only the token hash and shows the host as connected', async () => {
    expect(token).toMatch(/^kvh_/);
    const host = await panel.db.host.findUniqueOrThrow({ where: { name: 'node-2' } });
    expect(host.tokenHash).not.toContain(token);
    const hosts = await setup.admin.admin.hosts.query();
    expect(hosts.find((h) => h.name === 'node-2')).toMatchObject({ connected: true, url: agent.url });
    expect(hosts.find((h) => h.name === 'node-2')!.cpus).toBeGreaterThan(0);
  });

  it('places a VM created before any host registered, with its disk', async () => {
    const c = setup.users[0]!.c;
    await waitState(early.id, 'stopped');
    expect(await c.vm.get.query({ id: early.id })).toMatchObject({ host: 'node-2', state: 'stopped', lastError: null });
    expect((await c.audit.list.query({ vmId: early.id })).events.map((e) => e.action)).toContain('vm.place');
    await c.vm.delete.mutate({ id: early.id });
  });

  it('runs a VM there: create, start, report running, stop', async () => {
    const image = await panel.db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf') } });
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'far', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped').catch(async (e) => { throw new Error(`${e.message}: ${(await c.vm.get.query({ id: vm.id })).lastError}`); });
    expect((await c.vm.get.query({ id: vm.id })).host).toBe('node-2');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    expect(agent.local.runningIds()).toEqual([vm.id]);
    expect((await c.vm.metrics.query({ id: vm.id }))!.memoryBytes).toBe(64 * 2 ** 20);
    await c.vm.stop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');
    await c.vm.delete.mutate({ id: vm.id });
  });

  it('the agent refuses requests without its key, and the panel refuses unknown host tokens', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}`]) {
      const res = await fetch(`${agent.url}/agent/running`, { headers: auth ? { authorization: auth } : {} });
      expect(res.status).toBe(401);
    }
    const forged = await fetch(`${panel.url}/api/trpc/hosts.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer kvh_forged' },
      body: JSON.stringify({ json: { url: 'http://127.0.0.1:1', key: 'x'.repeat(40), capacity: { cpus: 1, memoryMiB: 1, diskGiB: 1 }, running: [] } }),
    });
    expect(forged.status).toBe(401);
    // A user's API token is not a host token either.
    const { secret } = await setup.users[0]!.c.account.createToken.mutate({ name: 'not-a-host' });
    const asUser = await fetch(`${panel.url}/api/trpc/hosts.report`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ json: { vmId: 'x', event: 'stopped' } }),
    });
    expect(asUser.status).toBe(401);
  });

  it('only admins create hosts', async () => {
    expect((await errorOf(setup.users[0]!.c.hosts.create.mutate({ name: 'mine' }))).code).toBe('FORBIDDEN');
  });
});
