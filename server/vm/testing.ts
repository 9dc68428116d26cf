// Helpers for the VM integration tests: find (or build) the test guest, and
// drive a VM over its serial port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function kvmUsable(): boolean {
  try {
    return existsSync('/dev/kvm') && spawnSync('test', ['-w', '/dev/kvm']).status === 0;
  } catch {
    return false;
  }
}

/** The guest image: `node scripts/guest.mjs` prints its path last. */
export function guestImage(): string | undefined {
  const script = join(ROOT, 'scripts', 'guest.mjs');
  if (existsSync(script)) {
    const r = spawnSync(process.execPath, [script], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    const last = r.stdout?.trim().split('\n').at(-1)?.trim();
    if (r.status === 0 && last && existsSync(last)) return last;
  }
  const fallback = join(ROOT, 'native', 'guest', 'build', 'guest.elf');
  return existsSync(fallback) ? fallback : undefined;
}

/**
 * What every VMM test file needs before its first test: the VMM built (the
 * VM runner and the addon, `node scripts/vm.mjs --build-only`), the test
 * guest, and a temporary directory. Register with
 * `beforeAll(() => ({ guest, tmp } = prepareVmTests(...)))`.
 */
export function prepareVmTests(tmpPrefix: string): { guest: string; tmp: string } {
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'vm.mjs'), '--build-only'], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('building the VMM (node scripts/vm.mjs --build-only) failed');
  const guest = guestImage();
  if (!guest) throw new Error('no test guest: `npm run guest` must build native/guest');
  return { guest, tmp: mkdtempSync(join(tmpdir(), tmpPrefix)) };
}

export function removeTmp(tmp: string): void {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

/** Accumulates serial text and waits for patterns in it. */
export class SerialLog {
  text = '';
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];

  push(data: Buffer | string): void {
    this.text += data.toString();
    this.waiters = this.waiters.filter((w) => {
      const m = this.text.slice(w.from).match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }

  /** Resolves with the first match of `re` after offset `from` (default: anywhere). */
  wait(re: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    const m = this.text.slice(from).match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for ${re} in serial output:\n${this.text.slice(-2000)}`)),
        timeoutMs,
      );
      this.waiters.push({
        re,
        from,
        resolve: (mm) => {
          clearTimeout(t);
          resolve(mm);
        },
      });
    });
  }
}

export interface CliRun {
  child: ChildProcess;
  serial: SerialLog;
  stderr: () => string;
  exit: Promise<number | null>;
  send: (s: string) => void;
  /** Signals the wrapper and the VM process (its own process group): SIGKILL of the wrapper alone would orphan the VM. */
  kill: (sig?: NodeJS.Signals) => void;
}

/** `npm run vm -- ARGS` (as `node scripts/vm.mjs ARGS`: the native runner) with serial on stdio (piped). */
export function runCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'vm.mjs'), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // a process group of its own, so kill() reaches the runner too
  });
  const serial = new SerialLog();
  let err = '';
  child.stdout!.on('data', (d: Buffer) => serial.push(d));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.on('error', () => {}); // the VM may be gone before its input is written
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const kill = (sig: NodeJS.Signals = 'SIGKILL') => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  return { child, serial, stderr: () => err, exit, send: (s) => child.stdin!.write(s), kill };
}

/** One request on a VM process's JSON-lines control socket; resolves with the reply. */
export function controlRequest(path: string, msg: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    let buf = '';
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`control ${path}: no answer to ${JSON.stringify(msg)}`));
    }, timeoutMs);
    c.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    c.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      c.end();
      resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
    });
    c.write(JSON.stringify(msg) + '\n');
  });
}

/** Polls `status` until the control socket answers (the runner creates it before the vCPUs start). */
export async function waitForControl(path: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await controlRequest(path, { cmd: 'status' });
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}
