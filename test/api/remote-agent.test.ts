// A host agent on "another machine" (`npm run agent`, here in the same test
// process on loopback): it registers with the panel using an admin-created
// token, runs real VM processes, and refuses callers without its key.
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { addGuestImage, requireVmm, waitState as waitStateIn } from '../support/vms';
import { startStandaloneAgent, type StandaloneAgent } from '../../server/agent/standalone';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
let agent: StandaloneAgent;
let token: string;
let early: { id: string };

const waitState = (id: string, want: string, ms?: number) => waitStateIn(panel, id, want, ms);

beforeAll(async () => {
  requireVmm();
  panel = await startPanel('sqlite'); // no local agent: the only host is the remote one
  setup = await withUsers(panel, 1);
  token = (await setup.admin.hosts.create.mutate({ name: 'node-2' })).token;
  // Created while no host is connected: recorded unplaced, placed when the agent registers.
  const image = await addGuestImage(panel.db, 'early-guest');
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
    const image = await addGuestImage(panel.db);
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'far', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped').catch(async (e) => { throw new Error(`${e.message}: ${(await c.vm.get.query({ id: vm.id })).lastError}`); });
    expect((await c.vm.get.query({ id: vm.id })).host).toBe('node-2');
    // A resize while stopped grows the disk on that host at once, over the agent API.
    await c.vm.resize.mutate({ id: vm.id, vcpus: 1, memoryMiB: 64, diskGiB: 2 });
    expect(statSync(agent.local.paths(vm.id).disk).size).toBe(2 * 2 ** 30);
    const remote = panel.services.hosts.forHost((await panel.db.vm.findUniqueOrThrow({ where: { id: vm.id } })).hostId!)!;
    expect(await remote.status(vm.id)).toEqual({ running: false, pid: null, uptimeSeconds: null });
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    expect(agent.local.runningIds()).toEqual([vm.id]);
    expect(await remote.status(vm.id)).toMatchObject({ running: true, pid: expect.any(Number) });
    expect((await c.vm.metrics.query({ id: vm.id }))!.memoryBytes).toBe(64 * 2 ** 20);
    await c.vm.stop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');
    await c.vm.delete.mutate({ id: vm.id });
  });

  it('a VM the agent no longer runs is stopped and deleted normally (its end was never reported)', async () => {
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'unnoticed', imageId: (await panel.db.image.findFirstOrThrow()).id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped');
    await panel.db.vm.update({ where: { id: vm.id }, data: { state: 'running' } }); // the panel missed its end
    await c.vm.forceStop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');
    await panel.db.vm.update({ where: { id: vm.id }, data: { state: 'running' } });
    await c.vm.delete.mutate({ id: vm.id, force: true });
    expect(await panel.db.vm.count({ where: { id: vm.id } })).toBe(0);
    // A report the panel refuses for good (no such VM on this host) must not hold up the ones after it.
    await agent.local.stop('ghost', { force: true }); // reports "stopped" for a VM the panel does not know
    await new Promise((r) => setTimeout(r, 300));
    const next = await c.vm.create.mutate({ name: 'after', imageId: (await panel.db.image.findFirstOrThrow()).id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(next.id, 'stopped');
    await c.vm.start.mutate({ id: next.id });
    await waitState(next.id, 'running', 3000);
    await c.vm.delete.mutate({ id: next.id, force: true });
  });

  it('when the agent registers again, a create cut short ends as failed and a delete cut short is finished', async () => {
    const c = setup.users[0]!.c;
    const imageId = (await panel.db.image.findFirstOrThrow()).id;
    const [creating, deleting, gone] = [
      await c.vm.create.mutate({ name: 'cut-create', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
      await c.vm.create.mutate({ name: 'cut-delete', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
      await c.vm.create.mutate({ name: 'gone', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
    ];
    for (const vm of [creating, deleting, gone]) await waitState(vm.id, 'stopped');
    // As if the panel went away in the middle of both (a half-made disk left on the host),
    // and missed the end of a running VM.
    await panel.db.vm.update({ where: { id: creating.id }, data: { state: 'creating' } });
    await panel.db.vm.update({ where: { id: deleting.id }, data: { state: 'deleting' } });
    await panel.db.vm.update({ where: { id: gone.id }, data: { state: 'running' } });
    const dir = agent.local.paths(creating.id).dir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'disk.img.partial'), 'half');
    // The panel forgets the agent (a restart); its next registration (every 200 ms here) reconciles.
    panel.services.hosts.unregister((await panel.db.host.findUniqueOrThrow({ where: { name: 'node-2' } })).id);
    await waitState(creating.id, 'error');
    expect((await c.vm.get.query({ id: creating.id })).lastError).toMatch(/^Making the disk was interrupted/);
    expect(existsSync(dir)).toBe(false);
    await waitState(deleting.id, 'deleted');
    expect(existsSync(agent.local.paths(deleting.id).dir)).toBe(false);
    await waitState(gone.id, 'crashed');
    const audit = (await c.audit.list.query({ vmId: gone.id })).events.map((e) => `${e.action}:${e.outcome} ${e.detail}`);
    expect(audit).toContain('vm.crash:error The VM process is gone from its host.');
    for (const vm of [creating, gone]) await c.vm.delete.mutate({ id: vm.id });
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
