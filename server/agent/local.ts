// The host agent for this machine: prepares VM disks under the data
// directory and runs one VM process per running VM (the native runner,
// native/build/kvmvmm-runner: ~7 ms to start, ~4 MiB of its own memory),
// reporting what happens to them. Runner processes are detached, so they
// outlive a restart of the panel; `adopt()` finds them again from their pid
// files.
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { copyFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentError, type HostAgent, type HostCapacity, type VmMetrics, type VmSpec } from './types';
import net from 'node:net';
import { ROOT_DIR } from '../config';

/** What a VM process did, as the panel's state machine understands it. */
export type AgentReport =
  | { vmId: string; event: 'started' }
  | { vmId: string; event: 'stopped' }
  | { vmId: string; event: 'rebooted' }
  | { vmId: string; event: 'crashed'; reason: string };

// Exit codes of the VM runner (server/vm/config.ts EXIT_CODES).
const EXIT_POWEROFF = 0;
const EXIT_RESET = 10;
const EXIT_STOPPED = 15;

export interface LocalAgentOptions {
  hostId: string;
  dataDir: string;
  report: (r: AgentReport) => void;
  runner?: string; // the VM runner executable
}

interface Tracked {
  pid: number;
  startedAt: number;
  logOffset: number; // where this process's lines start in vm.log
  spec: VmSpec;
  stopping: boolean;
  rebooting: boolean;
  poll?: NodeJS.Timeout;
}

export class LocalAgent implements HostAgent {
  hostId: string;
  private readonly runner: string;
  private readonly vms = new Map<string, Tracked>();

  constructor(private readonly opts: LocalAgentOptions) {
    this.hostId = opts.hostId;
    this.runner = opts.runner ?? path.join(ROOT_DIR, 'native/build/kvmvmm-runner');
  }

  paths(vmId: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(vmId)) throw new Error(`bad VM id ${vmId}`);
    const dir = path.join(this.opts.dataDir, 'vms', vmId);
    return {
      dir,
      disk: path.join(dir, 'disk.img'),
      config: path.join(dir, 'run.json'),
      spec: path.join(dir, 'spec.json'),
      serial: path.join(dir, 'serial.sock'),
      control: path.join(dir, 'control.sock'),
      vnc: path.join(dir, 'vnc.sock'),
      pid: path.join(dir, 'vm.pid'),
      log: path.join(dir, 'vm.log'),
    };
  }

  async capacity(): Promise<HostCapacity> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    const fs = statfsSync(this.opts.dataDir);
    return { cpus: os.cpus().length, memoryMiB: Math.floor(os.totalmem() / 2 ** 20), diskGiB: Math.floor((fs.bavail * fs.bsize) / 2 ** 30) };
  }

  /**
   * The VM's disk: a copy of the image's template (a reflink where the
   * filesystem can, so it is instant and shares blocks) or an empty sparse
   * file, sized to the VM. Written under a temporary name and renamed, so a
   * failure (disk full, missing template) leaves nothing half-made.
   */
  async createDisk(vm: VmSpec): Promise<void> {
    const p = this.paths(vm.id);
    mkdirSync(p.dir, { recursive: true });
    const tmp = `${p.disk}.partial`;
    try {
      if (vm.image.diskTemplatePath) await copyFile(vm.image.diskTemplatePath, tmp, fsc.COPYFILE_FICLONE);
      else closeSync(openSync(tmp, 'w'));
      await truncate(tmp, vm.diskGiB * 2 ** 30);
      await rename(tmp, p.disk);
    } catch (e) {
      await rm(p.dir, { recursive: true, force: true });
      throw new AgentError(`disk: ${(e as Error).message}`);
    }
  }

  async deleteDisk(vmId: string): Promise<void> {
    await rm(this.paths(vmId).dir, { recursive: true, force: true });
  }

  async start(vm: VmSpec): Promise<void> {
    if (this.vms.has(vm.id)) throw new AgentError('The VM is already running on this host.');
    const p = this.paths(vm.id);
    if (!existsSync(p.disk)) throw new AgentError('disk: the VM has no disk on this host.');
    if (!existsSync(vm.image.kernelPath)) throw new AgentError(`image: kernel file ${vm.image.kernelPath} is missing.`);
    const config = {
      id: vm.id,
      name: vm.name,
      memoryMiB: vm.memoryMiB,
      vcpus: vm.vcpus,
      kernel: vm.image.kernelPath,
      ...(vm.image.initrdPath ? { initrd: vm.image.initrdPath } : {}),
      cmdline: vm.image.cmdline,
      disks: [{ path: p.disk }],
      serial: `unix:${p.serial}`,
      control: `unix:${p.control}`,
      vnc: `unix:${p.vnc}`,
      pidFile: p.pid,
    };
    await writeFile(p.config, JSON.stringify(config, null, 2));
    await writeFile(p.spec, JSON.stringify(vm));
    const logOffset = existsSync(p.log) ? statSync(p.log).size : 0;
    const log = openSync(p.log, 'a');
    const child = spawn(this.runner, [p.config], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const t: Tracked = { pid: child.pid!, startedAt: Date.now(), logOffset, spec: vm, stopping: false, rebooting: false };
    this.vms.set(vm.id, t);
    let exitedEarly = false;
    child.once('exit', (code, signal) => {
      exitedEarly = true;
      this.exited(vm.id, t, code, signal);
    });
    // Started means the VM process is up and its sockets accept clients.
    const until = Date.now() + 10_000;
    while (!existsSync(p.control)) {
      if (exitedEarly) throw new AgentError(`The VM process ended at start: ${this.exitLine(vm.id, logOffset) ?? 'see vm.log'}`);
      if (Date.now() > until) throw new AgentError('The VM process did not come up within 10 s.');
      await new Promise((r) => setTimeout(r, 5));
    }
    this.opts.report({ vmId: vm.id, event: 'started' });
  }

  async stop(vmId: string, _opts: { force: boolean }): Promise<void> {
    const t = this.vms.get(vmId);
    if (!t) throw new AgentError('The VM is not running on this host.');
    t.stopping = true;
    // SIGTERM makes the runner end the VM and exit with "stopped".
    // TODO(host agent issue): a graceful stop asks the guest first (ACPI power button).
    process.kill(t.pid, 'SIGTERM');
  }

  /** A reset, as users expect from Proxmox: a fresh VM process on the same disk. */
  async reboot(vmId: string): Promise<void> {
    const t = this.vms.get(vmId);
    if (!t) throw new AgentError('The VM is not running on this host.');
    t.rebooting = true;
    process.kill(t.pid, 'SIGTERM');
  }

  /** Resolves when the VM's process has gone (or after `ms`). */
  waitGone(vmId: string, ms = 10_000): Promise<void> {
    return new Promise((resolve) => {
      const until = Date.now() + ms;
      const check = () => (!this.vms.has(vmId) || Date.now() > until ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  async metrics(vmId: string): Promise<VmMetrics | null> {
    const t = this.vms.get(vmId);
    if (!t) return null;
    const status = (await controlRequest(this.paths(vmId).control, { cmd: 'status' })) as RunnerStatus;
    const sum = (prefix: string, key: string) =>
      Object.entries(status.stats.devices).filter(([name]) => name.startsWith(prefix)).reduce((a, [, c]) => a + (c[key] ?? 0), 0);
    return {
      at: Date.now(),
      uptimeSeconds: (Date.now() - t.startedAt) / 1000,
      cpuSeconds: status.stats.vcpus.reduce((a, v) => a + v.cpuNs, 0) / 1e9,
      processCpuSeconds: processCpuSeconds(t.pid),
      rssBytes: status.rssBytes,
      memoryBytes: status.stats.ramBytes,
      diskReadBytes: sum('disk', 'read_bytes'),
      diskWriteBytes: sum('disk', 'write_bytes'),
      netRxBytes: sum('net', 'rx_bytes'),
      netTxBytes: sum('net', 'tx_bytes'),
    };
  }

  runningIds(): string[] {
    return [...this.vms.keys()];
  }

  private exited(vmId: string, t: Tracked, code: number | null, signal: NodeJS.Signals | null) {
    if (this.vms.get(vmId) !== t) return;
    this.vms.delete(vmId);
    if (t.poll) clearInterval(t.poll);
    if (t.rebooting || (code === EXIT_RESET && !t.stopping)) {
      // A reboot (the guest's or the user's): a fresh VM process on the same disk.
      this.opts.report({ vmId, event: 'rebooted' });
      this.start(t.spec).catch((e) => this.opts.report({ vmId, event: 'crashed', reason: `restart after reboot failed: ${(e as Error).message}` }));
    } else if (code === EXIT_POWEROFF || code === EXIT_STOPPED || (t.stopping && signal)) {
      this.opts.report({ vmId, event: 'stopped' });
    } else {
      const reason = signal ? `killed by ${signal}` : (this.exitLine(vmId, t.logOffset) ?? `exit code ${code}`);
      this.opts.report({ vmId, event: 'crashed', reason });
    }
  }

  /** The runner's one-line exit reason ("vm: <reason>: <message>") from this process's part of the log. */
  private exitLine(vmId: string, offset: number): string | undefined {
    try {
      const lines = readFileSync(this.paths(vmId).log).subarray(offset).toString('utf8').trim().split('\n');
      const last = lines.reverse().find((l) => l.startsWith('vm: '));
      return last?.slice('vm: '.length);
    } catch {
      return undefined;
    }
  }

  /**
   * After a restart of the panel: VM processes still alive are tracked again
   * (by polling, as they are no longer our children); returns their ids.
   */
  adopt(vmIds: string[], specs: Map<string, VmSpec>): string[] {
    const alive: string[] = [];
    for (const vmId of vmIds) {
      const p = this.paths(vmId);
      let pid = 0;
      try {
        pid = Number(readFileSync(p.pid, 'utf8').trim());
      } catch {
        continue;
      }
      if (!pid || !isRunner(pid, p.config)) continue;
      const t: Tracked = { pid, startedAt: processStartMs(pid), logOffset: existsSync(p.log) ? statSync(p.log).size : 0, spec: specs.get(vmId)!, stopping: false, rebooting: false };
      t.poll = setInterval(() => {
        if (!isAlive(pid)) this.exited(vmId, t, null, null);
      }, 250);
      t.poll.unref();
      this.vms.set(vmId, t);
      alive.push(vmId);
    }
    return alive;
  }

  /** adopt() for an agent that has no database: VM ids and specs from the data directory. */
  adoptFromDisk(): string[] {
    const root = path.join(this.opts.dataDir, 'vms');
    if (!existsSync(root)) return [];
    const specs = new Map<string, VmSpec>();
    for (const id of readdirSync(root)) {
      try {
        specs.set(id, JSON.parse(readFileSync(this.paths(id).spec, 'utf8')) as VmSpec);
      } catch {
        /* never started here */
      }
    }
    return this.adopt([...specs.keys()], specs);
  }

  /** Ends every VM process (tests and host shutdown; the panel itself leaves them running). */
  async stopAll(): Promise<void> {
    for (const id of this.runningIds()) await this.stop(id, { force: true }).catch(() => {});
    await Promise.all(this.runningIds().map((id) => this.waitGone(id)));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Is `pid` our runner for this config (and not a recycled pid)? */
function isRunner(pid: number, configPath: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(configPath);
  } catch {
    return false;
  }
}

interface RunnerStatus {
  rssBytes: number;
  stats: { vcpus: { cpuNs: number }[]; devices: Record<string, Record<string, number>>; ramBytes: number };
}

/** One JSON-lines request on a VM process's control socket. */
function controlRequest(socketPath: string, msg: unknown, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => { c.destroy(); reject(new AgentError('The VM process did not answer.')); }, timeoutMs);
    c.on('connect', () => c.write(JSON.stringify(msg) + '\n'));
    c.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch (e) {
        reject(e);
      }
    });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

const CLK_TCK = 100; // USER_HZ on Linux

/** utime + stime of a process, from /proc (fields 14 and 15, after the command name). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** When a process started (ms since epoch), from /proc: for VMs adopted after a restart. */
function processStartMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Date.now() - (uptime - startTicks / CLK_TCK) * 1000;
  } catch {
    return Date.now();
  }
}
