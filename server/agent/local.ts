// The host agent for this machine: prepares VM disks under the data
// directory and runs one VM process per running VM (the native runner,
// native/build/kvmvmm-runner: ~7 ms to start, ~4 MiB of its own memory),
// reporting what happens to them. Runner processes are detached, so they
// outlive a restart of the panel; `adopt()` finds them again from their pid
// files.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants as fsc, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, watch, writeFileSync, writeSync, type FSWatcher } from 'node:fs';
import { rename, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentError, type ConsoleKind, type HostAgent, type HostCapacity, type StopResult, type VmMetrics, type VmSpec, type VmStatus } from './types';
import type { Duplex } from 'node:stream';
import net from 'node:net';
import { ROOT_DIR } from '../config';
import { EXIT_CODES } from '../vm/config';

/** What a VM process did, as the panel's state machine understands it. */
export type AgentReport =
  | { vmId: string; event: 'started' }
  | { vmId: string; event: 'stopped' }
  | { vmId: string; event: 'rebooted' }
  | { vmId: string; event: 'crashed'; reason: string };

const { poweroff: EXIT_POWEROFF, reset: EXIT_RESET, stopped: EXIT_STOPPED } = EXIT_CODES;
const START_MARK = 'agent: start ';

export interface LocalAgentOptions {
  hostId: string;
  dataDir: string;
  report: (r: AgentReport) => void;
  runner?: string; // the VM runner executable
  /** How long a VM process may take to come up before start() gives up and kills it (default 10 s). */
  startTimeoutMs?: number;
  /** How long a forced stop or reset waits after SIGTERM before SIGKILL (default 5 s). */
  killAfterMs?: number;
}


interface Tracked {
  pid: number;
  startedAt: number;
  logOffset: number; // where this process's lines start in vm.log
  spec: VmSpec | undefined; // undefined: an orphan found without its spec (it can only be stopped)
  stopping: boolean;
  rebooting: boolean;
  poll?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout; // SIGKILL if SIGTERM has not ended it in time
  killed?: boolean; // SIGKILL sent by us (an adopted process then has no exit line)
}

export class LocalAgent implements HostAgent {
  hostId: string;
  private readonly runner: string;
  private readonly vms = new Map<string, Tracked>();
  // start() calls under way (a user's start, or the fresh process of a reboot):
  // a stop waits for them instead of finding nothing to stop.
  private readonly starting = new Map<string, Promise<void>>();

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
    return {
      cpus: os.cpus().length, memoryMiB: Math.floor(os.totalmem() / 2 ** 20), diskGiB: Math.floor((fs.bavail * fs.bsize) / 2 ** 30),
      diskTotalBytes: fs.blocks * fs.bsize, diskFreeBytes: fs.bavail * fs.bsize,
    };
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
    const size = vm.diskGiB * 2 ** 30;
    try {
      const template = vm.image.diskTemplatePath;
      if (template) {
        const tsize = statSync(template).size;
        if (tsize > size) throw new Error(`the image's disk template (${(tsize / 2 ** 30).toFixed(1)} GiB) is larger than the VM's disk (${vm.diskGiB} GiB)`);
        await copySparse(template, tmp);
      } else {
        closeSync(openSync(tmp, 'w'));
      }
      await truncate(tmp, size);
      await rename(tmp, p.disk);
    } catch (e) {
      await rm(p.dir, { recursive: true, force: true });
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOSPC' || /No space left/.test(err.message)) throw new AgentError('disk: the host is out of disk space (no space left on device).');
      throw new AgentError(`disk: ${err.message}`);
    }
  }

  async deleteDisk(vmId: string): Promise<void> {
    await rm(this.paths(vmId).dir, { recursive: true, force: true });
  }

  start(vm: VmSpec): Promise<void> {
    if (this.vms.has(vm.id) || this.starting.has(vm.id)) return Promise.reject(new AgentError('The VM is already running on this host.'));
    const p = this.startNow(vm).finally(() => this.starting.delete(vm.id));
    this.starting.set(vm.id, p);
    return p;
  }

  private async startNow(vm: VmSpec): Promise<void> {
    const p = this.paths(vm.id);
    if (!existsSync(p.disk)) throw new AgentError('disk: the VM has no disk on this host.');
    // The recorded size wins: a resize whose grow did not happen (another host, a failure) catches up here.
    await this.resizeDisk(vm.id, vm.diskGiB);
    checkReadable('kernel', vm.image.kernelPath);
    if (vm.image.initrdPath) checkReadable('initrd', vm.image.initrdPath);
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
    // A process of this VM that nobody tracks (it would share the disk) is refused, stale sockets removed.
    if (this.orphanPid(vm.id)) throw new AgentError('A VM process for this VM is already running on this host.');
    for (const f of [p.control, p.serial, p.vnc]) rmSync(f, { force: true });
    // Small files, written synchronously: a thread-pool round trip costs more than the write.
    writeFileSync(p.config, JSON.stringify(config, null, 2));
    writeFileSync(p.spec, JSON.stringify(vm));
    const logOffset = existsSync(p.log) ? statSync(p.log).size : 0;
    const log = openSync(p.log, 'a');
    writeSync(log, `${START_MARK}${new Date().toISOString()}\n`); // where this process's part of the log begins
    const child = spawn(this.runner, [p.config], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const t: Tracked = { pid: child.pid!, startedAt: Date.now(), logOffset, spec: vm, stopping: false, rebooting: false };
    this.vms.set(vm.id, t);
    child.once('exit', (code, signal) => this.exited(vm.id, t, code, signal));
    // Started means the VM process is up and its sockets accept clients: the
    // control socket is made last. inotify tells at once; the poll is a fallback.
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        watcher?.close();
        clearInterval(poll);
        clearTimeout(timer);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const check = () => existsSync(p.control) && finish();
      const onExit = () => finish(new AgentError(`The VM process ended at start: ${this.exitLine(vm.id, logOffset) ?? 'see vm.log'}`));
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(p.dir, check);
        watcher.on('error', () => {});
      } catch {
        /* no inotify: the poll alone */
      }
      const poll = setInterval(check, 20);
      const ms = this.opts.startTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        // Not left running half-up: ended and forgotten (its exit is not reported: start() fails instead).
        if (this.vms.get(vm.id) === t) this.vms.delete(vm.id);
        try { process.kill(t.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
        finish(new AgentError(`The VM process did not come up within ${ms / 1000} s.`));
      }, ms);
      child.once('exit', onExit);
      check();
    });
    this.opts.report({ vmId: vm.id, event: 'started' });
  }

  /**
   * Forced: the VM ends now (SIGTERM makes the runner stop it and exit with
   * "stopped"). Graceful: the ACPI power button is pressed and the guest
   * decides; the panel forces the stop if it has not powered off in time.
   */
  async stop(vmId: string, opts: { force: boolean }): Promise<StopResult> {
    // A start under way (also the fresh process of a reboot): stop what it starts.
    await this.starting.get(vmId)?.catch(() => {});
    const t = this.vms.get(vmId) ?? this.adoptOrphan(vmId);
    if (!t) {
      // No process: it has ended already, and the panel may have missed that
      // (a lost report). Said again, so the VM leaves "stopping"/"deleting".
      this.opts.report({ vmId, event: 'stopped' });
      return { alreadyStopped: true };
    }
    t.stopping = true;
    t.rebooting = false; // a stop during a graceful reboot ends the VM
    if (opts.force) this.terminate(t);
    else await this.pressPowerButton(vmId);
    return { alreadyStopped: false };
  }

  /** SIGTERM (the runner stops the VM and exits "stopped"), SIGKILL if it is still there after killAfterMs. */
  private terminate(t: Tracked): void {
    try {
      process.kill(t.pid, 'SIGTERM');
    } catch {
      return; // gone already: its exit is being reported
    }
    if (t.killTimer) return;
    t.killTimer = setTimeout(() => {
      if (!isAlive(t.pid)) return;
      t.killed = true;
      try { process.kill(t.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    }, this.opts.killAfterMs ?? 5000);
    t.killTimer.unref();
  }

  /** A live runner of this VM that nobody tracks (e.g. left by an earlier agent): tracked now, so it can be stopped. */
  private adoptOrphan(vmId: string): Tracked | undefined {
    const pid = this.orphanPid(vmId);
    if (!pid) return undefined;
    let spec: VmSpec | undefined;
    try {
      spec = JSON.parse(readFileSync(this.paths(vmId).spec, 'utf8')) as VmSpec;
    } catch {
      /* never started by an agent: it cannot be rebooted, only stopped */
    }
    return this.track(vmId, pid, spec, false);
  }

  /**
   * Proxmox's reboot: the guest is asked to shut down (power button) and
   * gets a fresh VM process on the same disk once it has (the panel forces
   * it if it has not in time). Forced: a reset now, by the same fresh process.
   */
  async reboot(vmId: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.starting.get(vmId)?.catch(() => {});
    const t = this.vms.get(vmId);
    if (!t) {
      // Ended already and the panel missed it: said again, so the VM does not stay "running".
      if (!this.orphanPid(vmId)) this.opts.report({ vmId, event: 'stopped' });
      throw new AgentError('The VM is not running on this host.');
    }
    if (t.stopping) throw new AgentError('The VM is being stopped.');
    t.rebooting = true;
    if (opts.force) this.terminate(t);
    else await this.pressPowerButton(vmId);
  }

  private async pressPowerButton(vmId: string): Promise<void> {
    let res: { ok?: boolean; error?: string };
    try {
      res = (await controlRequest(this.paths(vmId).control, { cmd: 'powerbutton' })) as typeof res;
    } catch (e) {
      throw new AgentError(`The guest could not be asked to shut down: ${(e as Error).message}`);
    }
    if (!res.ok) throw new AgentError(`The guest could not be asked to shut down: ${res.error ?? 'refused'}`);
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

  async status(vmId: string): Promise<VmStatus> {
    const t = this.vms.get(vmId);
    return t ? { running: true, pid: t.pid, uptimeSeconds: (Date.now() - t.startedAt) / 1000 } : { running: false, pid: null, uptimeSeconds: null };
  }

  async resizeDisk(vmId: string, diskGiB: number): Promise<void> {
    const disk = this.paths(vmId).disk;
    if (!existsSync(disk)) throw new AgentError('disk: the VM has no disk on this host.');
    const want = diskGiB * 2 ** 30;
    if (statSync(disk).size >= want) return; // disks only grow
    try {
      await truncate(disk, want); // sparse: nothing is written
    } catch (e) {
      throw new AgentError(`disk: could not grow it to ${diskGiB} GiB (${(e as Error).message}).`);
    }
  }

  runningIds(): string[] {
    return [...this.vms.keys()];
  }

  /** Connects to the VM process's serial or VNC unix socket (nothing is sent: the caller speaks first). */
  openConsole(vmId: string, kind: ConsoleKind): Promise<Duplex> {
    if (!this.vms.has(vmId)) return Promise.reject(new AgentError('The VM is not running on this host.'));
    const p = this.paths(vmId);
    return connectUnix(kind === 'vnc' ? p.vnc : p.serial);
  }

  private exited(vmId: string, t: Tracked, code: number | null, signal: NodeJS.Signals | null) {
    if (this.vms.get(vmId) !== t) return;
    this.vms.delete(vmId);
    if (t.poll) clearInterval(t.poll);
    if (t.killTimer) clearTimeout(t.killTimer);
    // An adopted process is not our child: its exit code comes from its last log line.
    if (code === null && !signal) code = exitCodeOf(this.exitLine(vmId, t.logOffset));
    if ((t.rebooting || (code === EXIT_RESET && !t.stopping)) && t.spec) {
      // A reboot (the guest's or the user's): a fresh VM process on the same disk.
      // Under way before anyone hears of the reboot, so a stop from now on waits for it.
      const restart = this.start(t.spec);
      this.opts.report({ vmId, event: 'rebooted' });
      restart.catch((e) => this.opts.report({ vmId, event: 'crashed', reason: `restart after reboot failed: ${(e as Error).message}` }));
    } else if (code === EXIT_POWEROFF || code === EXIT_STOPPED || (t.stopping && (signal || t.killed || code === EXIT_RESET))) {
      // Asked to stop, it ended: by SIGTERM/SIGKILL, or the guest reset itself meanwhile (not a crash, and not restarted).
      this.opts.report({ vmId, event: 'stopped' });
    } else {
      const reason = signal ? `killed by ${signal}` : (this.exitLine(vmId, t.logOffset) ?? (code === null ? 'the VM process ended without saying why (killed?)' : `exit code ${code}`));
      this.opts.report({ vmId, event: 'crashed', reason });
    }
  }

  /** The pid of a live runner of this VM that this agent does not track, or 0. */
  private orphanPid(vmId: string): number {
    const p = this.paths(vmId);
    try {
      const pid = Number(readFileSync(p.pid, 'utf8').trim());
      return pid && isRunner(pid, p.config) ? pid : 0;
    } catch {
      return 0;
    }
  }

  /**
   * How the VM process that last ran ended, from its log: for VMs whose
   * process ended while nobody watched (the panel was down).
   */
  lastExit(vmId: string): { poweredOff: boolean; reason: string | undefined } {
    let from = 0;
    try {
      from = Math.max(0, readFileSync(this.paths(vmId).log).lastIndexOf(START_MARK));
    } catch {
      /* no log */
    }
    const line = this.exitLine(vmId, from);
    const code = exitCodeOf(line);
    return { poweredOff: code === EXIT_POWEROFF || code === EXIT_STOPPED, reason: line };
  }

  /**
   * Forgets every VM process without ending it, as a panel that goes away
   * does: tests use it to restart a panel within one process (the next agent
   * adopts them again). Their exits are no longer reported.
   */
  release(): void {
    for (const t of this.vms.values()) {
      if (t.poll) clearInterval(t.poll);
      if (t.killTimer) clearTimeout(t.killTimer);
    }
    this.vms.clear();
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
  adopt(vmIds: string[], specs: Map<string, VmSpec>, stopping: ReadonlySet<string> = new Set()): string[] {
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
      this.track(vmId, pid, specs.get(vmId), stopping.has(vmId));
      alive.push(vmId);
    }
    return alive;
  }

  /** Tracks a VM process that is not our child (adopted): its end is noticed by polling. */
  private track(vmId: string, pid: number, spec: VmSpec | undefined, stopping: boolean): Tracked {
    const p = this.paths(vmId);
    const t: Tracked = { pid, startedAt: processStartMs(pid), logOffset: existsSync(p.log) ? statSync(p.log).size : 0, spec, stopping, rebooting: false };
    t.poll = setInterval(() => {
      if (!isAlive(pid)) this.exited(vmId, t, null, null);
    }, 250);
    t.poll.unref();
    this.vms.set(vmId, t);
    return t;
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

/** A connected unix socket, still paused (no byte is read until the caller attaches). */
export function connectUnix(socketPath: string, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    const timer = setTimeout(() => { c.destroy(); reject(new AgentError('The VM process did not accept the console.')); }, timeoutMs);
    const failed = (e: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new AgentError(`The VM's console is unreachable: ${e.code ?? e.message}`)); };
    c.once('error', failed);
    c.once('connect', () => { clearTimeout(timer); c.off('error', failed); resolve(c); });
  });
}

/** An image file the VM process must read: a clear error now rather than a failed VM process. */
function checkReadable(what: string, file: string): void {
  try {
    accessSync(file, fsc.R_OK);
    if (!statSync(file).isFile()) throw Object.assign(new Error(), { code: 'EISDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AgentError(`image: ${what} file ${file} is missing.`);
    if (code === 'EACCES' || code === 'EPERM') throw new AgentError(`image: ${what} file ${file} is not readable by the host agent (permission denied).`);
    if (code === 'EISDIR') throw new AgentError(`image: ${what} file ${file} is not a regular file.`);
    throw new AgentError(`image: ${what} file ${file}: ${(e as Error).message}`);
  }
}

/**
 * cp with a reflink where the filesystem can (instant, shared blocks) and
 * holes kept otherwise: Node's copyFile writes a template's holes as zeros.
 */
function copySparse(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cp = spawn('cp', ['--reflink=auto', '--sparse=always', '--', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    cp.stderr.on('data', (d) => (err += d));
    cp.once('error', reject);
    cp.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(err.trim().replace(/^cp: /, '') || `cp exited with ${code}`))));
  });
}

/** The runner's exit code for its exit line ("poweroff: …", "reset: …"), null when unknown. */
function exitCodeOf(line: string | undefined): number | null {
  const kind = line?.split(':')[0];
  if (kind === 'poweroff') return EXIT_POWEROFF;
  if (kind === 'reset') return EXIT_RESET;
  if (kind === 'stopped') return EXIT_STOPPED;
  return null;
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
