// The whole lifecycle through the panel's API with the real local host
// agent and real VM processes booting the test guest.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, jarOf, startPanel, withUsers } from '../support/server';
import { addGuestImage, requireVmm, serialEventually, serialUntil, stateOf as stateIn, waitFor, waitState as waitStateIn, type PanelWithAgent } from '../support/vms';
import { openVmFeed } from '../support/feed';

let panel: PanelWithAgent;
let setup: Awaited<ReturnType<typeof withUsers>>;
let imageId: string;

const stateOf = (id: string) => stateIn(panel, id);
const waitState = (id: string, want: string, ms?: number) => waitStateIn(panel, id, want, ms);

/** Subscribes to vm.onChange as the browser does and records each VM's states in the order they are announced. */
async function watchStates(c: object) {
  const cookie = [...jarOf(c)].map(([k, v]) => `${k}=${v}`).join('; ');
  const states = new Map<string, string[]>();
  const feed = await openVmFeed(panel.url, cookie, ({ vmId, state }) => {
    if (!state) return;
    const list = states.get(vmId) ?? [];
    if (list.at(-1) !== state) list.push(state); // a reboot announces "running" again
    states.set(vmId, list);
  });
  return { states, stop: feed.stop };
}

beforeAll(async () => {
  requireVmm();
  panel = await startPanel('sqlite', {}, { agent: true });
  if (!panel.agent) throw new Error('the local agent did not start (is the VMM built and /dev/kvm present?)');
  setup = await withUsers(panel, 1);
  imageId = (await addGuestImage(panel.db, 'test-guest', { builtin: true })).id;
});
afterAll(async () => { await panel.close(); });

describe('VM lifecycle through the API with the local host agent', () => {
  it('create → start → guest ready → reboot → stop → start → delete, states observed live in order', async () => {
    const c = setup.users[0]!.c;
    const feed = await watchStates(c);
    const vm = await c.vm.create.mutate({ name: 'life', imageId, vcpus: 2, memoryMiB: 64, diskGiB: 1 });
    expect(vm.state).toBe('creating');
    await waitState(vm.id, 'stopped');
    expect((await c.vm.get.query({ id: vm.id })).host).toBe('local');

    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    const serial = panel.agent!.paths(vm.id).serial;
    await serialUntil(serial, /guest ready vcpus=2 memory=64 boots=1/);
    expect((await errorOf(c.vm.start.mutate({ id: vm.id }))).message).toBe('The VM is already running.');
    expect((await errorOf(c.vm.delete.mutate({ id: vm.id }))).message).toMatch(/stop it first/);

    const m1 = await c.vm.metrics.query({ id: vm.id });
    expect(m1).toMatchObject({ memoryBytes: 64 * 2 ** 20 });
    expect(m1!.uptimeSeconds).toBeGreaterThan(0);
    expect(m1!.rssBytes).toBeGreaterThan(1 << 20);
    expect(m1!.diskWriteBytes).toBeGreaterThanOrEqual(512); // the guest's boot counter
    expect(m1!.cpuSeconds).toBeGreaterThanOrEqual(0);

    // Reboot as in Proxmox: the guest shuts down on the ACPI power button and starts again.
    const before = Date.now();
    const rb = await c.vm.reboot.mutate({ id: vm.id });
    expect(rb).toMatchObject({ state: 'running', forced: false });
    expect(rb.deadline!.getTime()).toBeGreaterThanOrEqual(before + 29_000);
    await serialUntil(serial, /power button: shutting down/).catch(() => {}); // the socket closes as the guest powers off
    await serialEventually(serial, /boots=2/);
    expect(await stateOf(vm.id)).toBe('running');
    await waitFor(async () => (await c.vm.get.query({ id: vm.id })).rebootDeadline === null);

    // Graceful stop: the power button again, with a deadline the UI counts down to.
    const st = await c.vm.stop.mutate({ id: vm.id, timeoutSeconds: 20 });
    expect(st).toMatchObject({ state: 'stopping', forced: false });
    expect(st.deadline!.getTime()).toBeGreaterThan(Date.now() + 15_000);
    await waitState(vm.id, 'stopped');
    expect((await c.vm.get.query({ id: vm.id })).stopDeadline).toBeNull();
    expect(readFileSync(panel.agent!.paths(vm.id).log, 'utf8')).toMatch(/vm: poweroff/);

    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    await serialEventually(serial, /boots=3/);
    await c.vm.reset.mutate({ id: vm.id });
    await serialEventually(serial, /boots=4/);
    await c.vm.forceStop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');

    expect(await c.vm.metrics.query({ id: vm.id })).toBeNull();
    await c.vm.delete.mutate({ id: vm.id });
    expect(await panel.db.vm.count({ where: { id: vm.id } })).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    await feed.stop();
    expect(feed.states.get(vm.id)).toEqual([
      'creating', 'stopped',
      'starting', 'running', // guest ready; the reboot keeps it running
      'stopping', 'stopped',
      'starting', 'running', // reset keeps it running
      'stopping', 'stopped',
      'deleting', 'deleted',
    ]);
    const events = (await c.audit.list.query({ vmId: vm.id })).events.reverse().map((e) => `${e.action}:${e.outcome}`);
    expect(events).toEqual([
      'vm.create:ok', 'vm.start:ok', 'vm.start:denied', 'vm.delete:denied', 'vm.reboot:ok',
      'vm.stop:ok', 'vm.start:ok', 'vm.reset:ok', 'vm.force_stop:ok', 'vm.delete:ok',
    ]);
  });

  it('a guest that powers itself off or reboots itself is followed and audited', async () => {
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'selfish', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    const serial = panel.agent!.paths(vm.id).serial;
    await serialUntil(serial, /guest ready[\s\S]*> /); // typed before the shell is up, input would be lost
    await serialUntil(serial, /> reboot/, 'reboot\n').catch(() => {}); // the socket closes as the guest resets
    await serialEventually(serial, /boots=2[\s\S]*> /);
    await serialUntil(serial, /> poweroff/, 'poweroff\n').catch(() => {});
    await waitState(vm.id, 'stopped');
    const events = (await c.audit.list.query({ vmId: vm.id })).events.reverse().map((e) => e.action);
    expect(events).toEqual(['vm.create', 'vm.start', 'vm.guest_reboot', 'vm.guest_poweroff']);
    await c.vm.delete.mutate({ id: vm.id });
  });

  it('refuses grace periods out of bounds', async () => {
    const c = setup.users[0]!.c;
    for (const timeoutSeconds of [0, 601, 1.5]) expect((await errorOf(c.vm.stop.mutate({ id: 'x', timeoutSeconds }))).code).toBe('BAD_REQUEST');
  });

  it('a killed VM process is marked crashed with the reason within 2 s, and can start again', async () => {
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'victim', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    const pid = Number(readFileSync(panel.agent!.paths(vm.id).pid, 'utf8'));
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitState(vm.id, 'crashed', 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    const got = await c.vm.get.query({ id: vm.id });
    expect(got.lastError).toBe('killed by SIGKILL');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    await c.vm.delete.mutate({ id: vm.id, force: true });
    expect(await panel.db.vm.count({ where: { id: vm.id } })).toBe(0);
  });

  it('a missing kernel leaves the VM crashed with a clear error', async () => {
    const c = setup.users[0]!.c;
    const bad = await panel.db.image.create({ data: { name: 'gone', kind: 'linux', kernelPath: '/nonexistent/vmlinuz' } });
    const vm = await c.vm.create.mutate({ name: 'nokernel', imageId: bad.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped');
    const e = await errorOf(c.vm.start.mutate({ id: vm.id }));
    expect(e.code).toBe('PRECONDITION_FAILED');
    expect(e.message).toBe('image: kernel file /nonexistent/vmlinuz is missing.');
    expect(await stateOf(vm.id)).toBe('crashed');
    expect((await c.vm.get.query({ id: vm.id })).lastError).toMatch(/kernel file \/nonexistent\/vmlinuz is missing/);
  });
});
