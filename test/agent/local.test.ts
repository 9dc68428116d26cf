// The local host agent against real VM processes booting the test guest.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalAgent, type AgentReport } from '../../server/agent/local';
import type { VmSpec } from '../../server/agent/types';
import { ROOT_DIR } from '../../server/config';

const GUEST = path.join(ROOT_DIR, 'native/guest/build/guest.elf');
const RUNNER = path.join(ROOT_DIR, 'native/build/kvmvmm-runner');

let dataDir: string;
let agent: LocalAgent;
const reports: AgentReport[] = [];

function spec(id: string, extra: Partial<VmSpec> = {}): VmSpec {
  return { id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1, image: { kernelPath: GUEST, initrdPath: null, diskTemplatePath: null, cmdline: '' }, ...extra };
}

/** Reads the serial socket until `re` matches (the runner replays the boot log to new clients). */
function serialUntil(sock: string, re: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(sock);
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`timeout waiting for ${re}; got: ${out.slice(-300)}`)); }, ms);
    c.on('data', (d) => {
      out += d.toString('latin1');
      if (re.test(out)) { clearTimeout(timer); c.destroy(); resolve(out); }
    });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Types a line on the serial console; resolves once it has been handed to the VM process. */
function serialSend(sock: string, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock, () => c.end(line, resolve));
    c.on('error', reject);
  });
}

async function waitFor<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const reportFor = (vmId: string, event: AgentReport['event'], after = 0) =>
  waitFor(() => reports.slice(after).find((r) => r.vmId === vmId && r.event === event));

beforeAll(() => {
  if (!existsSync(GUEST) || !existsSync(RUNNER)) throw new Error('build first: make -C native runner && npm run guest');
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-agent-'));
  agent = new LocalAgent({ hostId: 'local', dataDir, report: (r) => reports.push(r) });
});
afterAll(async () => {
  await agent?.stopAll();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('local host agent', () => {
  it('creates a sparse disk of the requested size and deletes it', async () => {
    await agent.createDisk(spec('disk-a', { diskGiB: 3 }));
    const st = statSync(agent.paths('disk-a').disk);
    expect(st.size).toBe(3 * 2 ** 30);
    expect(st.blocks * 512).toBeLessThan(1 << 20); // sparse
    await agent.deleteDisk('disk-a');
    expect(existsSync(agent.paths('disk-a').dir)).toBe(false);
  });

  it('resizeDisk grows a disk (sparse, never shrinks it); status follows the process', async () => {
    await expect(agent.resizeDisk('no-such-vm', 2)).rejects.toThrow(/no disk on this host/);
    await agent.createDisk(spec('disk-resize', { diskGiB: 1 }));
    await agent.resizeDisk('disk-resize', 3);
    expect(statSync(agent.paths('disk-resize').disk).size).toBe(3 * 2 ** 30);
    await agent.resizeDisk('disk-resize', 2);
    expect(statSync(agent.paths('disk-resize').disk).size).toBe(3 * 2 ** 30);
    expect(statSync(agent.paths('disk-resize').disk).blocks * 512).toBeLessThan(1 << 20);
    expect(await agent.status('disk-resize')).toEqual({ running: false, pid: null, uptimeSeconds: null });
    await agent.start(spec('disk-resize', { diskGiB: 3 }));
    const st = await agent.status('disk-resize');
    expect(st.running).toBe(true);
    expect(readFileSync(`/proc/${st.pid}/cmdline`, 'utf8')).toContain('kvmvmm-runner');
    await agent.stop('disk-resize', { force: true });
    await waitFor(() => (agent.runningIds().includes('disk-resize') ? undefined : true));
    await agent.deleteDisk('disk-resize');
  });

  it('a start after a resize grows the disk (sparse, never shrinks it)', async () => {
    await agent.createDisk(spec('disk-grow', { diskGiB: 1 }));
    await agent.start(spec('disk-grow', { diskGiB: 2 }));
    const st = statSync(agent.paths('disk-grow').disk);
    expect(st.size).toBe(2 * 2 ** 30);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    await agent.stop('disk-grow', { force: true });
    await waitFor(() => (agent.runningIds().includes('disk-grow') ? undefined : true));
    // Asked for less than it has (a stale spec): the disk keeps its size.
    await agent.start(spec('disk-grow', { diskGiB: 1 }));
    expect(statSync(agent.paths('disk-grow').disk).size).toBe(2 * 2 ** 30);
    await agent.stop('disk-grow', { force: true });
    await waitFor(() => (agent.runningIds().includes('disk-grow') ? undefined : true));
    await agent.deleteDisk('disk-grow');
  });

  it('a missing template is a clear error and leaves nothing behind', async () => {
    const bad = spec('disk-b', { image: { kernelPath: GUEST, initrdPath: null, diskTemplatePath: '/nonexistent/template.img', cmdline: '' } });
    await expect(agent.createDisk(bad)).rejects.toThrow(/^disk: .*no such file/i);
    expect(existsSync(agent.paths('disk-b').dir)).toBe(false);
  });

  it('runs a VM process, follows a guest reboot, and reports a crash from kill -9 within 2 s', async () => {
    const vm = spec('vm-a');
    await agent.createDisk(vm);
    await agent.start(vm);
    expect(reports.at(-1)).toEqual({ vmId: 'vm-a', event: 'started' });
    await serialUntil(agent.paths('vm-a').serial, /guest ready vcpus=1 memory=64 boots=1/);

    const mark = reports.length;
    await serialSend(agent.paths('vm-a').serial, 'reboot\n');
    await reportFor('vm-a', 'rebooted', mark);
    await reportFor('vm-a', 'started', mark);
    await waitFor(() => (existsSync(agent.paths('vm-a').serial) ? true : undefined));
    await serialUntil(agent.paths('vm-a').serial, /boots=2/);

    const pid = Number((await import('node:fs')).readFileSync(agent.paths('vm-a').pid, 'utf8'));
    const killedAt = Date.now();
    const before = reports.length;
    process.kill(pid, 'SIGKILL');
    const crash = await reportFor('vm-a', 'crashed', before);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(crash).toMatchObject({ reason: 'killed by SIGKILL' });
  });

  it('stops a VM on request and reports it stopped; a powered-off guest reports stopped too', async () => {
    const vm = spec('vm-b');
    await agent.createDisk(vm);
    await agent.start(vm);
    await serialUntil(agent.paths('vm-b').serial, /guest ready/);
    let mark = reports.length;
    await agent.stop('vm-b', { force: true });
    await reportFor('vm-b', 'stopped', mark);

    await agent.start(vm);
    mark = reports.length;
    await serialUntil(agent.paths('vm-b').serial, /guest ready/);
    await serialSend(agent.paths('vm-b').serial, 'poweroff\n');
    await reportFor('vm-b', 'stopped', mark);
    expect(agent.runningIds()).not.toContain('vm-b');
  });

  it('copies a disk template with its holes, and refuses one larger than the disk', async () => {
    const tpl = path.join(dataDir, 'template.raw');
    const fd = openSync(tpl, 'w');
    writeSync(fd, Buffer.alloc(1 << 20, 0xab), 0, 1 << 20, 0);
    writeSync(fd, Buffer.alloc(4096, 0xcd), 0, 4096, 512 << 20); // 512 MiB apart: a hole between
    closeSync(fd);
    const withTpl = (id: string, diskGiB: number) => spec(id, { diskGiB, image: { kernelPath: GUEST, initrdPath: null, diskTemplatePath: tpl, cmdline: '' } });
    await agent.createDisk(withTpl('tpl-a', 2));
    const st = statSync(agent.paths('tpl-a').disk);
    expect(st.size).toBe(2 * 2 ** 30);
    expect(st.blocks * 512).toBeLessThan(4 << 20);
    const head = Buffer.alloc(16);
    const dfd = openSync(agent.paths('tpl-a').disk, 'r');
    readSync(dfd, head, 0, 16, 0);
    closeSync(dfd);
    expect(head.every((b) => b === 0xab)).toBe(true);
    await agent.deleteDisk('tpl-a');
    const big = path.join(dataDir, 'big.raw');
    closeSync(openSync(big, 'w'));
    (await import('node:fs')).truncateSync(big, 3 * 2 ** 30);
    await expect(agent.createDisk({ ...withTpl('tpl-b', 2), image: { ...withTpl('tpl-b', 2).image, diskTemplatePath: big } })).rejects.toThrow(/disk: the image's disk template \(3\.0 GiB\) is larger than the VM's disk \(2 GiB\)/);
    expect(existsSync(agent.paths('tpl-b').dir)).toBe(false);
  });

  it('stops and reboots gracefully through the ACPI power button, and forced', async () => {
    const vm = spec('vm-g');
    await agent.createDisk(vm);
    await agent.start(vm);
    await serialUntil(agent.paths('vm-g').serial, /guest ready.*boots=1/);
    let mark = reports.length;
    await agent.reboot('vm-g'); // graceful: the guest powers off, a fresh process starts
    await reportFor('vm-g', 'rebooted', mark);
    await reportFor('vm-g', 'started', mark);
    await serialUntil(agent.paths('vm-g').serial, /boots=2/);
    expect(readFileSync(agent.paths('vm-g').log, 'utf8')).toMatch(/vm: poweroff/);
    mark = reports.length;
    await agent.reboot('vm-g', { force: true });
    await reportFor('vm-g', 'started', mark);
    await serialUntil(agent.paths('vm-g').serial, /boots=3/);
    mark = reports.length;
    await agent.stop('vm-g', { force: false });
    await reportFor('vm-g', 'stopped', mark);
    expect(reports.slice(mark).filter((r) => r.vmId === 'vm-g')).toEqual([{ vmId: 'vm-g', event: 'stopped' }]);
    // Already stopped: said again (a lost report must not leave the panel waiting), not an error.
    await expect(agent.stop('vm-g', { force: false })).resolves.toEqual({ alreadyStopped: true });
  });

  it('after a restart, adopts live VM processes and classifies their ends from the log', async () => {
    const [a, b] = [spec('adopt-a'), spec('adopt-b')];
    for (const vm of [a, b]) {
      await agent.createDisk(vm);
      await agent.start(vm);
      await serialUntil(agent.paths(vm.id).serial, /guest ready/);
    }
    // b powered off once before: its log's older "poweroff" must not be taken for the last run's end.
    const mark = reports.length;
    await agent.stop('adopt-b', { force: false });
    await reportFor('adopt-b', 'stopped', mark);
    await agent.start(b);
    await serialUntil(agent.paths('adopt-b').serial, /guest ready/);
    agent.release(); // the old agent forgets them; they keep running
    const got: AgentReport[] = [];
    const next = new LocalAgent({ hostId: 'local', dataDir, report: (r) => got.push(r) });
    expect(next.adoptFromDisk().sort()).toEqual(['adopt-a', 'adopt-b']);
    await serialSend(next.paths('adopt-a').serial, 'poweroff\n');
    await waitFor(() => got.find((r) => r.vmId === 'adopt-a'));
    expect(got).toEqual([{ vmId: 'adopt-a', event: 'stopped' }]);
    process.kill(Number(readFileSync(next.paths('adopt-b').pid, 'utf8')), 'SIGKILL');
    const crash = await waitFor(() => got.find((r) => r.vmId === 'adopt-b'));
    expect(crash).toEqual({ vmId: 'adopt-b', event: 'crashed', reason: 'the VM process ended without saying why (killed?)' });
    expect(next.lastExit('adopt-a')).toMatchObject({ poweredOff: true });
    expect(next.lastExit('adopt-b')).toEqual({ poweredOff: false, reason: undefined });
    await next.stopAll();
  });

  it('refuses to start a VM without a disk or twice', async () => {
    await expect(agent.start(spec('no-disk'))).rejects.toThrow(/no disk/);
  });
});

/**
 * Stand-ins for the VM runner, for what a real guest will not do on cue: a
 * shell script that writes its pid, makes the control socket path (start()
 * waits for it) and then behaves as `body` says.
 */
describe('local host agent with fake VM processes', () => {
  let dir: string;
  const got: AgentReport[] = [];
  const fake = (name: string, body: string, opts: { startTimeoutMs?: number; killAfterMs?: number } = {}) => {
    const runner = path.join(dir, `${name}.sh`);
    writeFileSync(runner, `#!/bin/sh\nd=$(dirname "$1")\necho $$ > "$d/vm.pid"\n${body}\n`, { mode: 0o755 });
    return new LocalAgent({ hostId: 'local', dataDir: path.join(dir, 'data'), runner, report: (r) => got.push(r), ...opts });
  };
  const UP = ': > "$d/control.sock"';
  const pidOf = (a: LocalAgent, id: string) => Number(readFileSync(a.paths(id).pid, 'utf8'));
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-fake-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('a stop of a VM with no process resolves as already stopped and reports "stopped" again', async () => {
    const a = fake('none', 'exit 0');
    const mark = got.length;
    await expect(a.stop('never-ran', { force: false })).resolves.toEqual({ alreadyStopped: true });
    await expect(a.stop('never-ran', { force: true })).resolves.toEqual({ alreadyStopped: true });
    expect(got.slice(mark)).toEqual([{ vmId: 'never-ran', event: 'stopped' }, { vmId: 'never-ran', event: 'stopped' }]);
    // A reboot of it is refused, but the panel hears it is stopped.
    await expect(a.reboot('never-ran')).rejects.toThrow(/not running/);
    expect(got.at(-1)).toEqual({ vmId: 'never-ran', event: 'stopped' });
  });

  it('a forced stop escalates to SIGKILL when the process ignores SIGTERM, and reports stopped', async () => {
    const a = fake('deaf', `trap '' TERM\n${UP}\nexec sleep 1000`, { killAfterMs: 300 });
    const vm = spec('deaf');
    await a.createDisk(vm);
    await a.start(vm);
    const pid = pidOf(a, 'deaf');
    const mark = got.length;
    const t0 = Date.now();
    await expect(a.stop('deaf', { force: true })).resolves.toEqual({ alreadyStopped: false });
    const r = await waitFor(() => got.slice(mark).find((x) => x.vmId === 'deaf'), 3000);
    expect(r).toEqual({ vmId: 'deaf', event: 'stopped' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(alive(pid)).toBe(false);
    expect(a.runningIds()).toEqual([]);
  });

  it('a VM process that does not come up in time is killed and forgotten', async () => {
    const a = fake('mute', 'exec sleep 1000', { startTimeoutMs: 300 });
    const vm = spec('mute');
    await a.createDisk(vm);
    await expect(a.start(vm)).rejects.toThrow(/did not come up within 0.3 s/);
    const pid = pidOf(a, 'mute');
    await waitFor(() => (alive(pid) ? undefined : true), 2000);
    expect(a.runningIds()).toEqual([]);
    // Nothing is left to refuse the next start.
    await expect(a.start(vm)).rejects.toThrow(/did not come up/);
  });

  it('a reset while stopping is a stop, not a crash or a reboot', async () => {
    const a = fake('resetting', `trap 'exit 10' TERM\n${UP}\nwhile :; do sleep 0.05; done`);
    const vm = spec('resetting');
    await a.createDisk(vm);
    await a.start(vm);
    const mark = got.length;
    await a.stop('resetting', { force: true });
    await waitFor(() => got.slice(mark).find((x) => x.vmId === 'resetting'), 3000);
    await sleep(200);
    expect(got.slice(mark)).toEqual([{ vmId: 'resetting', event: 'stopped' }]);
    expect(a.runningIds()).toEqual([]);
  });

  it('a stop while a reboot starts the fresh process stops that process', async () => {
    let stopped: Promise<unknown> | undefined;
    const runner = path.join(dir, 'rebooter.sh');
    writeFileSync(runner, `#!/bin/sh\nd=$(dirname "$1")\necho $$ > "$d/vm.pid"\ntrap 'exit 10' USR1\n${UP}\nwhile :; do sleep 0.05; done\n`, { mode: 0o755 });
    const mine: AgentReport[] = [];
    const a: LocalAgent = new LocalAgent({
      hostId: 'local', dataDir: path.join(dir, 'data'), runner,
      // The user's stop arrives just as the guest's reboot is reported: the old process is gone, the new one not up yet.
      report: (r) => { mine.push(r); if (r.event === 'rebooted') stopped = a.stop('rb', { force: true }); },
    });
    const vm = spec('rb');
    await a.createDisk(vm);
    await a.start(vm);
    process.kill(pidOf(a, 'rb'), 'SIGUSR1'); // the guest resets itself (exit code 10)
    await waitFor(() => (stopped ? true : undefined), 3000);
    await expect(stopped).resolves.toEqual({ alreadyStopped: false });
    await waitFor(() => mine.find((r) => r.event === 'stopped'), 3000);
    expect(mine.map((r) => r.event)).toEqual(['started', 'rebooted', 'started', 'stopped']);
    expect(a.runningIds()).toEqual([]);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
