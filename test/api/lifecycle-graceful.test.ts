// Graceful stop and reboot when the guest does not comply (a host agent whose
// guests ignore the power button: the panel forces them at the deadline), and
// VMs created while no host existed (placed when a host registers, or when
// they are started).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startPanel, withUsers, type Client, type TestPanel } from '../support/server';
import { addGuestImage, serialUntil, sleep, waitState } from '../support/vms';
import { AgentError, type ConsoleKind, type HostAgent, type HostCapacity, type StopResult, type VmMetrics, type VmSpec, type VmStatus } from '../../server/agent/types';
import { handleAgentReport } from '../../server/agent/reports';
import { LocalAgent } from '../../server/agent/local';
import { startLocalAgent } from '../../server/agent/boot';
import { placeUnplacedVms } from '../../server/api/routers/vm';

/** A host whose guests ignore the power button; forced actions work. */
class StubbornAgent implements HostAgent {
  calls: string[] = [];
  failPress = false;
  failReset = false;
  /** The guest powers off just as it is forced: the forced stop finds no process. */
  goneWhenForced = false;
  constructor(readonly hostId: string, private readonly panel: TestPanel) {}
  private report(vmId: string, event: 'started' | 'stopped' | 'rebooted') {
    setTimeout(() => void handleAgentReport(this.panel.services, { vmId, event }), 10);
  }
  async capacity(): Promise<HostCapacity> { return { cpus: 8, memoryMiB: 8192, diskGiB: 100 }; }
  diskDelayMs = 0;
  async createDisk(): Promise<void> { await sleep(this.diskDelayMs); }
  async deleteDisk(): Promise<void> {}
  async start(vm: VmSpec): Promise<void> { this.calls.push('start'); this.report(vm.id, 'started'); }
  async stop(vmId: string, opts: { force: boolean }): Promise<StopResult> {
    if (!opts.force && this.failPress) throw new AgentError('The guest could not be asked to shut down: The VM process did not answer.');
    this.calls.push(opts.force ? 'stop!' : 'stop');
    if (opts.force) this.report(vmId, 'stopped');
    return { alreadyStopped: opts.force && this.goneWhenForced };
  }
  async reboot(vmId: string, opts: { force?: boolean } = {}): Promise<void> {
    if (opts.force && this.failReset) throw new AgentError('The VM process did not answer.');
    this.calls.push(opts.force ? 'reboot!' : 'reboot');
    if (opts.force) { this.report(vmId, 'rebooted'); this.report(vmId, 'started'); }
  }
  async metrics(): Promise<VmMetrics | null> { return null; }
  async status(): Promise<VmStatus> { return { running: false, pid: null, uptimeSeconds: null }; }
  async resizeDisk(): Promise<void> {}
  openConsole(_vmId: string, _kind: ConsoleKind): Promise<Duplex> { return Promise.reject(new AgentError('no console here')); }
}

describe('graceful stop and reboot with a guest that ignores the power button', () => {
  let panel: TestPanel;
  let c: Client;
  let agent: StubbornAgent;
  let imageId: string;

  beforeAll(async () => {
    panel = await startPanel('sqlite');
    const user = (await withUsers(panel, 1)).users[0]!;
    c = user.c;
    await panel.db.quota.update({ where: { userId: user.id }, data: { maxVms: 50, maxRunningVms: 50, maxVcpus: 50, maxMemoryMiB: 8192 } });
    const host = await panel.db.host.create({ data: { name: 'stubborn', url: 'http://stub', cpus: 8, memoryMiB: 8192, diskGiB: 100 } });
    agent = new StubbornAgent(host.id, panel);
    panel.services.hosts.register(agent);
    imageId = (await addGuestImage(panel.db, 'g')).id;
  });
  afterAll(async () => { await panel.close(); });

  async function runningVm(name: string) {
    const vm = await c.vm.create.mutate({ name, imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(panel, vm.id, 'stopped');
    await c.vm.start.mutate({ id: vm.id });
    await waitState(panel, vm.id, 'running');
    agent.calls.length = 0;
    return vm.id;
  }
  const auditOf = async (id: string) => (await c.audit.list.query({ vmId: id })).events.reverse().map((e) => `${e.action}:${e.outcome}${e.detail ? ` ${e.detail}` : ''}`);

  it('a stop shows its deadline and is forced when it passes', async () => {
    const id = await runningVm('stop-late');
    const t0 = Date.now();
    const r = await c.vm.stop.mutate({ id, timeoutSeconds: 1 });
    expect(r.forced).toBe(false);
    expect(Math.abs(r.deadline!.getTime() - (t0 + 1000))).toBeLessThan(500);
    const v = await c.vm.get.query({ id });
    expect(v.state).toBe('stopping');
    expect(v.stopDeadline).toEqual(r.deadline);
    await sleep(600);
    expect(await c.vm.get.query({ id })).toMatchObject({ state: 'stopping' });
    await waitState(panel, id, 'stopped', 3000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(agent.calls).toEqual(['stop', 'stop!']);
    expect((await c.vm.get.query({ id })).stopDeadline).toBeNull();
    expect((await auditOf(id)).slice(-2)).toEqual(['vm.stop:ok', 'vm.stop_forced:ok The guest did not power off within 1 s.']);
  });

  it('the default grace period is 30 s; force stop is immediate and cancels the countdown', async () => {
    const id = await runningVm('stop-force');
    const r = await c.vm.stop.mutate({ id });
    expect(r.deadline!.getTime() - Date.now()).toBeGreaterThan(28_000);
    await c.vm.forceStop.mutate({ id });
    await waitState(panel, id, 'stopped', 1000);
    expect(agent.calls).toEqual(['stop', 'stop!']);
    expect((await auditOf(id)).slice(-2)).toEqual(['vm.stop:ok', 'vm.force_stop:ok']);
  });

  it('a guest that cannot even be asked is stopped by force at once, and that is audited', async () => {
    const id = await runningVm('stop-unreachable');
    agent.failPress = true;
    try {
      const r = await c.vm.stop.mutate({ id });
      expect(r).toMatchObject({ forced: true, deadline: null });
    } finally {
      agent.failPress = false;
    }
    await waitState(panel, id, 'stopped', 1000);
    expect((await auditOf(id)).slice(-2)).toEqual([
      'vm.stop_forced:ok The guest could not be asked to shut down: The VM process did not answer.', 'vm.stop:ok',
    ]);
  });

  it('a reboot shows its deadline and resets the VM when it passes; a second reboot meanwhile is refused', async () => {
    const id = await runningVm('reboot-late');
    const r = await c.vm.reboot.mutate({ id, timeoutSeconds: 1 });
    expect((await c.vm.get.query({ id })).rebootDeadline).toEqual(r.deadline);
    expect((await errorOf(c.vm.reboot.mutate({ id }))).message).toMatch(/already rebooting/);
    await sleep(1500);
    expect(agent.calls).toEqual(['reboot', 'reboot!']);
    const v = await c.vm.get.query({ id });
    expect(v).toMatchObject({ state: 'running', rebootDeadline: null });
    const audit = await auditOf(id);
    expect(audit.slice(-3)).toEqual(['vm.reboot:ok', 'vm.reboot:denied The VM is already rebooting; reset it to force the reboot.', 'vm.reboot_forced:ok The guest did not shut down for the reboot within 1 s.']);
    expect(audit.some((a) => a.startsWith('vm.guest_reboot'))).toBe(false);
    await c.vm.forceStop.mutate({ id });
  });

  it('two stops at once: the one that wins keeps its deadline, and the VM is forced at it', async () => {
    const ids = await Promise.all(['twice-a', 'twice-b', 'twice-c'].map((n) => runningVm(n)));
    agent.calls.length = 0;
    // Both requests of a pair read "running" before either writes "stopping": the writes are held back a little.
    const db = panel.services.db;
    const vmDelegate = new Proxy(db.vm, {
      get(target, key) {
        const v = Reflect.get(target, key) as unknown;
        if (key !== 'updateMany' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return async (args: { data?: { state?: string } }) => {
          if (args.data?.state === 'stopping') await sleep(100);
          return (v as (a: unknown) => Promise<unknown>).call(target, args);
        };
      },
    });
    panel.services.db = new Proxy(db, { get: (target, key) => (key === 'vm' ? vmDelegate : Reflect.get(target, key)) });
    let results: unknown[];
    try {
      results = await Promise.all(ids.flatMap((id) => [1, 2].map(() => c.vm.stop.mutate({ id, timeoutSeconds: 1 }).then((r) => r, (e: Error) => e))));
    } finally {
      panel.services.db = db;
    }
    for (const [i, id] of ids.entries()) {
      const pair = results.slice(2 * i, 2 * i + 2);
      expect(pair.filter((r) => !(r instanceof Error))).toHaveLength(1); // one stop wins, the other is told the VM changed
      expect((await c.vm.get.query({ id })).stopDeadline).not.toBeNull();
    }
    for (const id of ids) await waitState(panel, id, 'stopped', 3000);
    expect(agent.calls.filter((x) => x === 'stop!')).toHaveLength(3);
    for (const id of ids) expect((await auditOf(id)).at(-1)).toBe('vm.stop_forced:ok The guest did not power off within 1 s.');
  });

  it('a reset that fails does not block later reboots', async () => {
    const id = await runningVm('reset-fails');
    agent.failReset = true;
    try {
      expect((await errorOf(c.vm.reset.mutate({ id }))).message).toBe('The VM process did not answer.');
    } finally {
      agent.failReset = false;
    }
    const r = await c.vm.reboot.mutate({ id, timeoutSeconds: 60 });
    expect(r).toMatchObject({ state: 'running', forced: false });
    expect(agent.calls).toEqual(['reboot']);
    await c.vm.forceStop.mutate({ id });
    await waitState(panel, id, 'stopped', 1000);
  });

  it('a VM stopped while its disk is being made at start is not started after all', async () => {
    const vm = await c.vm.create.mutate({ name: 'placed-late', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(panel, vm.id, 'stopped');
    await panel.db.vm.update({ where: { id: vm.id }, data: { hostId: null } }); // unplaced: start places it and makes its disk
    agent.calls.length = 0;
    agent.diskDelayMs = 300;
    try {
      const starting = c.vm.start.mutate({ id: vm.id });
      await waitState(panel, vm.id, 'starting', 1000);
      await c.vm.stop.mutate({ id: vm.id });
      await starting;
    } finally {
      agent.diskDelayMs = 0;
    }
    await waitState(panel, vm.id, 'stopped', 1000);
    await sleep(100);
    expect(agent.calls).toEqual(['stop!']);
    expect(await panel.db.vm.findUniqueOrThrow({ where: { id: vm.id } })).toMatchObject({ state: 'stopped' });
    // Had the process started anyway (the stop slipped in after that check), it is ended when it reports.
    agent.calls.length = 0;
    await handleAgentReport(panel.services, { vmId: vm.id, event: 'started' });
    expect(agent.calls).toEqual(['stop!']);
  });

  it('a guest that powers off just as its deadline passes is not audited as forced', async () => {
    const id = await runningVm('just-in-time');
    agent.goneWhenForced = true;
    try {
      await c.vm.stop.mutate({ id, timeoutSeconds: 1 });
      await waitState(panel, id, 'stopped', 3000);
    } finally {
      agent.goneWhenForced = false;
    }
    await sleep(100);
    const audit = await auditOf(id);
    expect(audit.at(-1)).toBe('vm.stop:ok');
    expect(audit.some((a) => a.startsWith('vm.stop_forced'))).toBe(false);
  });
});

describe('VMs created while no host existed', () => {
  let panel: TestPanel;
  let c: Client;
  let imageId: string;
  let agent: LocalAgent | null = null;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-place-'));

  beforeAll(async () => {
    panel = await startPanel('sqlite'); // no host yet
    c = (await withUsers(panel, 1)).users[0]!.c;
    imageId = (await addGuestImage(panel.db, 'g')).id;
  });
  afterAll(async () => {
    await agent?.stopAll();
    await panel.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const serialReady = (sock: string) => serialUntil(sock, /guest ready/, undefined, 5000);

  it('are placed at start on a host that registered without placing them, and run', async () => {
    const vm = await c.vm.create.mutate({ name: 'early', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    expect(vm).toMatchObject({ state: 'stopped', host: null });
    expect((await errorOf(c.vm.start.mutate({ id: vm.id }))).message).toMatch(/^No host available/);
    expect(await panel.db.vm.findUniqueOrThrow({ where: { id: vm.id } })).toMatchObject({ state: 'stopped', hostId: null });

    // A host appears (registered directly here, so nothing places the VM before its start).
    const host = await panel.db.host.create({ data: { name: 'local', url: 'local', cpus: 2, memoryMiB: 4096, diskGiB: 10 } });
    agent = new LocalAgent({ hostId: host.id, dataDir, report: (r) => void handleAgentReport(panel.services, r) });
    panel.services.hosts.register(agent);
    await c.vm.start.mutate({ id: vm.id });
    await waitState(panel, vm.id, 'running');
    expect((await c.vm.get.query({ id: vm.id })).host).toBe('local');
    expect(existsSync(agent.paths(vm.id).disk)).toBe(true);
    await serialReady(agent.paths(vm.id).serial);
    await c.vm.forceStop.mutate({ id: vm.id });
    await waitState(panel, vm.id, 'stopped');
  });

  it('are placed, with their disks made, when a host registers', async () => {
    // Created while the panel knows no host (as after a restart, before the agent is back)…
    panel.services.hosts.unregister(agent!.hostId);
    const second = await c.vm.create.mutate({ name: 'early-2', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    expect(second).toMatchObject({ state: 'stopped', host: null });
    // …then the host registers (what hosts.register and the local agent's start do).
    panel.services.hosts.register(agent!);
    expect(await placeUnplacedVms(panel.services)).toBe(1);
    await waitState(panel, second.id, 'stopped');
    expect((await c.vm.get.query({ id: second.id })).host).toBe('local');
    expect(existsSync(agent!.paths(second.id).disk)).toBe(true);
    const audit = (await c.audit.list.query({ vmId: second.id })).events.map((e) => e.action);
    expect(audit).toContain('vm.place');
    await c.vm.start.mutate({ id: second.id });
    await waitState(panel, second.id, 'running');
    await serialReady(agent!.paths(second.id).serial);
    await c.vm.forceStop.mutate({ id: second.id });
    await waitState(panel, second.id, 'stopped');
  });

  it('the local host agent places them when it starts', async () => {
    await agent?.stopAll();
    panel.services.hosts.unregister(agent!.hostId);
    await panel.db.host.delete({ where: { name: 'local' } }).catch(() => {});
    await panel.db.vm.deleteMany({});
    agent = null;
    const vm = await c.vm.create.mutate({ name: 'before-boot', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    expect(vm.host).toBeNull();
    agent = await startLocalAgent(panel.services);
    expect(agent).not.toBeNull();
    await waitState(panel, vm.id, 'stopped');
    expect((await c.vm.get.query({ id: vm.id })).host).toBe('local');
    expect(existsSync(agent!.paths(vm.id).disk)).toBe(true);
  });
});
