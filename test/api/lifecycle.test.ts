// The whole lifecycle through the panel's API with the real local host
// agent and real VM processes booting the test guest.
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { ROOT_DIR } from '../../server/config';
import type { LocalAgent } from '../../server/agent/local';

let panel: TestPanel & { agent: LocalAgent | null };
let setup: Awaited<ReturnType<typeof withUsers>>;
let imageId: string;

async function stateOf(id: string) {
  return (await panel.db.vm.findUniqueOrThrow({ where: { id } })).state;
}
async function waitState(id: string, want: string, ms = 10_000) {
  const until = Date.now() + ms;
  while ((await stateOf(id)) !== want) {
    if (Date.now() > until) throw new Error(`VM ${id} is ${await stateOf(id)}, expected ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
function serialUntil(sock: string, re: RegExp, send?: string, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(sock);
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`timeout waiting for ${re}: ${out.slice(-200)}`)); }, ms);
    c.on('connect', () => send && c.write(send));
    c.on('data', (d) => { out += d; if (re.test(out)) { clearTimeout(timer); c.destroy(); resolve(out); } });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

beforeAll(async () => {
  panel = await startPanel('sqlite', {}, { agent: true });
  if (!panel.agent) throw new Error('the local agent did not start (is the VMM built and /dev/kvm present?)');
  setup = await withUsers(panel, 1);
  imageId = (await panel.db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf'), builtin: true } })).id;
});
afterAll(async () => { await panel.close(); });

describe('VM lifecycle through the API with the local host agent', () => {
  it('create → start → guest ready → reboot → stop → start → delete', async () => {
    const c = setup.users[0]!.c;
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

    await c.vm.reboot.mutate({ id: vm.id });
    await new Promise((r) => setTimeout(r, 300));
    await serialUntil(serial, /boots=2/);
    expect(await stateOf(vm.id)).toBe('running');

    await c.vm.stop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    await serialUntil(serial, /boots=3/);
    await c.vm.forceStop.mutate({ id: vm.id });
    await waitState(vm.id, 'stopped');

    expect(await c.vm.metrics.query({ id: vm.id })).toBeNull();
    await c.vm.delete.mutate({ id: vm.id });
    expect(await panel.db.vm.count({ where: { id: vm.id } })).toBe(0);
    const events = (await c.audit.list.query({ vmId: vm.id })).events.reverse().map((e) => `${e.action}:${e.outcome}`);
    expect(events).toEqual([
      'vm.create:ok', 'vm.start:ok', 'vm.start:denied', 'vm.delete:denied', 'vm.reboot:ok', 'vm.guest_reboot:ok',
      'vm.stop:ok', 'vm.start:ok', 'vm.force_stop:ok', 'vm.delete:ok',
    ]);
  });

  it('a killed VM process is marked crashed with the reason within 2 s, and can start again', async () => {
    const c = setup.users[0]!.c;
    const vm = await c.vm.create.mutate({ name: 'victim', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(vm.id, 'stopped');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(vm.id, 'running');
    const pid = Number((await import('node:fs')).readFileSync(panel.agent!.paths(vm.id).pid, 'utf8'));
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
