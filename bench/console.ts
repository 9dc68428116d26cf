// `npm run bench -- console [--samples N] [--screens N] [--gap-ms MS]`
//
// The browser console's VNC path, side by side in one run, on the project's
// test guest (native/guest) with the same text on screen:
//
//   ours  = native/build/kvmvmm-runner (RFB server in the VM process, unix
//           socket) + the panel's WebSocket bridge (server/console/pipe.ts)
//           in its own Node process (bench/console-bridge.ts)
//   qemu  = qemu-system-x86_64 -M microvm (isa-vga + i8042, the same PVH
//           image) with its built-in VNC server on a unix socket + Debian's
//           websockify (--unix-target)
//
// A WebSocket RFB client (test/support/rfbClient.ts) does what noVNC does:
// RFB 3.8, noVNC's SetPixelFormat and noVNC's SetEncodings list, except that
// ZRLE is moved to the front so that both servers choose ZRLE (QEMU would
// pick Tight from noVNC's own order; that pairing is measured too, as
// "qemu (noVNC order)"). It measures:
//
//  (a) the first full 1024x768 screen (48 lines of text) of a new
//      connection: bytes and server CPU from the non-incremental request to
//      the last rectangle (median of --screens connections, after 3 warm-up
//      ones: the panel's bridge is a long-running process); the CPU of
//      accepting the connection (WebSocket upgrade, RFB handshake; websockify
//      forks a process here) is a row of its own;
//  (b) one echoed character: a key typed through RFB (QEMU extended key
//      events, as noVNC sends once the server acknowledges them; 'x' and
//      BackSpace alternately, so the line does not grow), bytes from the key
//      to the update that shows the glyph (median of --samples), and server
//      CPU per keystroke (total over the samples / samples);
//  (c) the round trip from that key event to the glyph's rectangle arriving
//      (median and p90 of --samples, keys back to back), and the same with
//      --gap-ms of idle time before each key (a typing pace);
//  (d) scrolling the full text screen: --scroll-cmds `echo` commands typed on
//      the serial line one at a time (each waited for on serial, then
//      --scroll-gap-ms of pause, a person's pace), two text rows each, while
//      the client keeps one incremental request outstanding as noVNC does
//      (a new one as soon as an update has arrived): bytes and server CPU
//      from the first command until the screen has been quiet for 300 ms.
//      Our server sends the scroll as CopyRect; QEMU's does not detect
//      scrolling (it only sends CopyRect for a display's own blits, which
//      this VGA does not make), although both clients offer CopyRect. The
//      vCPU threads (the guest echoing and moving its framebuffer) are
//      reported apart from the server's own CPU. At the end the client's
//      decoded picture is compared with a fresh Raw full screen from the
//      same server, and ours with QEMU's.
//
// Bytes: "RFB" = WebSocket payload; "wire" = TCP bytes the client socket
// read (WebSocket framing included). Server CPU = VM/QEMU process + bridge/
// websockify process (with its per-connection child), summed over every
// thread's /proc/PID/task/TID/schedstat run time (ns; the utime+stime of
// /proc/PID/stat count the same time in 10 ms ticks, too coarse for one
// update). Both include the guest's own vCPU time for echoing the key.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type NetConnectOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SerialLog } from '../server/vm/testing';
import { ENC, ENCODING_NAMES, NOVNC_ENCODINGS, NOVNC_PIXEL_FORMAT, RfbClient, type Rect } from '../test/support/rfbClient';

const ROOT = join(import.meta.dirname, '..');
const MEM_MIB = 64;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: non-negative number expected`);
  return v;
}
const SAMPLES = arg('samples', 200);
const SCREENS = arg('screens', 15);
const GAP_MS = arg('gap-ms', 100);
const SCROLL_CMDS = arg('scroll-cmds', 30);
const SCROLL_GAP_MS = arg('scroll-gap-ms', 200);

const progress = (m: string) => process.stderr.write(`bench console: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- setup ----

function mustRun(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')})`);
  return r.stdout;
}
function haveCommand(c: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
}

progress('building the native runner and the test guest if needed');
mustRun('make', ['-C', 'native', '-j2', '--no-print-directory', 'runner'], 'building native/build/kvmvmm-runner');
const guest = mustRun(process.execPath, [join(ROOT, 'scripts/guest.mjs')], 'building the guest').trim().split('\n').at(-1)!.trim();
const RUNNER = join(ROOT, 'native/build/kvmvmm-runner');
const missing = [['qemu-system-x86_64', 'qemu-system-x86'], ['websockify', 'websockify']].filter(([c]) => !haveCommand(c!));
if (missing.length) {
  const pkgs = missing.map(([, p]) => p!);
  progress(`installing ${pkgs.join(' ')} (apt-get)`);
  mustRun('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], 'installing Debian packages');
}

const tmp = mkdtempSync(join(tmpdir(), 'consolebench-'));

// ---- processes ----

const live = new Set<ChildProcess>();
function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}
process.on('exit', () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

function start(cmd: string, args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const canConnect = (o: NetConnectOpts) =>
  new Promise<boolean>((res) => {
    const s = connect(o);
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });

// ---- /proc ----

/** pid and all its descendants (websockify serves each connection in a child). */
function tree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(ppid, [...(parent.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parent.get(out[i]!) ?? []));
  return out;
}

/** vCPU threads: ours are named vcpuN, QEMU's "CPU N/KVM". */
const VCPU_THREAD = /^(vcpu\d+|CPU \d+\/KVM)$/;

/** Run time of every thread of these processes (only the vCPU threads with `vcpuOnly`), ns. */
function cpuNs(pids: number[], vcpuOnly = false): number {
  let ns = 0;
  for (const p of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      try {
        if (vcpuOnly && !VCPU_THREAD.test(readFileSync(`/proc/${p}/task/${t}/comm`, 'utf8').trim())) continue;
        ns += Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread ended
      }
    }
  }
  return ns;
}

// ---- the two stacks ----

interface Stack {
  name: string;
  vmPid: number;
  bridgePid: number;
  url: string;
  serial: SerialLog;
  type: (s: string) => void;
  /** CPU of the VM process (all threads, and its vCPU threads alone) and of the bridge (tree), ns. */
  cpu(): { vm: number; vcpu: number; bridge: number };
}

function snapshotCpu(vmPid: number, bridgePid: number): () => { vm: number; vcpu: number; bridge: number } {
  // The bridge's process tree is walked at every snapshot: websockify's per-connection child counts once it exists.
  return () => ({ vm: cpuNs([vmPid]), vcpu: cpuNs([vmPid], true), bridge: cpuNs(tree(bridgePid)) });
}

async function serialClient(path: string): Promise<{ log: SerialLog; type: (s: string) => void }> {
  await until(`serial socket ${path}`, () => (existsSync(path) ? true : undefined));
  const log = new SerialLog();
  const s = await until('serial connect', () =>
    new Promise<ReturnType<typeof connect> | undefined>((res) => {
      const c = connect(path);
      c.once('connect', () => res(c));
      c.once('error', () => res(undefined));
    }));
  s.on('data', (d: Buffer) => log.push(d));
  return { log, type: (t) => void s.write(t) };
}

async function startOurs(): Promise<Stack> {
  const vnc = join(tmp, 'ours.vnc');
  const ser = join(tmp, 'ours.serial');
  const vm = start(RUNNER, ['--kernel', guest, '--memory', String(MEM_MIB), '--name', 'bench', '--vnc', `unix:${vnc}`, '--serial', `unix:${ser}`]);
  const { log, type } = await serialClient(ser);
  await log.wait(/guest ready/).catch((e) => Promise.reject(new Error(`${e}\n${vm.out()}`)));
  const bridge = start(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/console-bridge.ts'), vnc]);
  const port = await until('bridge listening', () => /listening (\d+)/.exec(bridge.out())?.[1]);
  const pids = { vm: vm.child.pid!, bridge: bridge.child.pid! };
  return {
    name: 'ours', vmPid: pids.vm, bridgePid: pids.bridge, url: `ws://127.0.0.1:${port}/`, serial: log, type,
    cpu: snapshotCpu(pids.vm, pids.bridge),
  };
}

async function startQemu(): Promise<Stack> {
  const vnc = join(tmp, 'qemu.vnc');
  const ser = join(tmp, 'qemu.serial');
  const vm = start('qemu-system-x86_64', [
    // debug-threads: named threads ("CPU 0/KVM"), so (d) can tell the vCPU's time apart.
    '-name', 'bench,debug-threads=on', '-M', 'microvm', '-enable-kvm', '-cpu', 'host,-arch-capabilities', '-m', String(MEM_MIB), '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-device', 'isa-vga', '-device', 'i8042',
    '-vnc', `unix:${vnc}`, '-serial', `unix:${ser},server=on,wait=on`, '-kernel', guest,
  ]);
  const { log, type } = await serialClient(ser);
  await log.wait(/guest ready/).catch((e) => Promise.reject(new Error(`${e}\n${vm.out()}`)));
  const port = await freePort();
  const ws = start('websockify', [`127.0.0.1:${port}`, `--unix-target=${vnc}`]);
  await until('websockify listening', async () => ((await canConnect({ host: '127.0.0.1', port })) ? true : undefined))
    .catch((e) => Promise.reject(new Error(`${e}\n${ws.out()}`)));
  const pids = { vm: vm.child.pid!, bridge: ws.child.pid! };
  return {
    name: 'qemu', vmPid: pids.vm, bridgePid: pids.bridge, url: `ws://127.0.0.1:${port}/`, serial: log, type,
    cpu: snapshotCpu(pids.vm, pids.bridge),
  };
}

/** The same text on both screens: 48 lines of distinct pseudo-random words (nothing for zlib to repeat). */
async function fillScreen(s: Stack): Promise<void> {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const word = () => Array.from({ length: 2 + Math.floor(rnd() * 8) }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
  const at = s.serial.text.length;
  for (let i = 0; i < 50; i++) s.type(`echo ${i} ${Array.from({ length: 9 }, word).join(' ')} end${i}\n`);
  await s.serial.wait(/end49\r\n> /, 30_000, at);
  await sleep(300);
}

// ---- measurements ----

const ZRLE_FIRST = [ENC.zrle, ...NOVNC_ENCODINGS.filter((e) => e !== ENC.zrle)];
const isPseudo = (r: Rect) => r.enc < 0 && r.enc !== ENC.tightPng;

interface Result {
  encodings: Map<number, number>;
  ws: string;
  fullRfb: number[];
  fullWire: number[];
  fullFrames: number[];
  connectCpuVm: number[];
  connectCpuBridge: number[];
  fullCpuVm: number[];
  fullCpuBridge: number[];
  charRfb: number[];
  charWire: number[];
  charCpuVm: number;
  charCpuBridge: number;
  rtt: number[];
  rttPaced: number[];
  extKeys: boolean;
  /** Decoded pictures (null when the encoding is not decoded by the client): first screen, after all keys. */
  fbFirst: Uint32Array | null;
  fbAfterKeys: Uint32Array | null;
  scrollRfb: number;
  scrollWire: number;
  scrollUpdates: number;
  scrollCopyRects: number;
  scrollCpuVm: number;
  scrollCpuVcpu: number;
  scrollCpuBridge: number;
  /** The following client's picture after scrolling, and how it compares with a fresh Raw full screen. */
  fbAfterScroll: Uint32Array | null;
  scrollVsRaw: string;
}

async function open(s: Stack, encs: readonly number[], res?: Result): Promise<RfbClient> {
  const cpu0 = s.cpu();
  const c = await RfbClient.websocket(s.url);
  await c.handshake();
  if (res) {
    // websockify serves each connection in a new process: tree() now includes it (it started at 0).
    const cpu1 = s.cpu();
    res.connectCpuVm.push(cpu1.vm - cpu0.vm);
    res.connectCpuBridge.push(cpu1.bridge - cpu0.bridge);
  }
  c.setPixelFormat(NOVNC_PIXEL_FORMAT);
  c.setEncodings(encs);
  // QEMU answers SetEncodings at once (ext-key ack, LED state, desktop size): not part of (a).
  while (await c.updateWithin(150));
  return c;
}

/** Non-incremental request -> updates until the whole screen has arrived. */
async function fullScreen(c: RfbClient): Promise<void> {
  c.request(false);
  let area = 0;
  while (area < c.width * c.height) {
    const rects = await c.updateWithin(10_000);
    if (!rects) throw new Error('no full screen within 10 s');
    for (const r of rects) if (!isPseudo(r)) area += r.w * r.h;
  }
}

async function measure(s: Stack, encs: readonly number[]): Promise<Result> {
  const res: Result = {
    encodings: new Map(), ws: '', fullRfb: [], fullWire: [], fullFrames: [], connectCpuVm: [], connectCpuBridge: [], fullCpuVm: [], fullCpuBridge: [],
    charRfb: [], charWire: [], charCpuVm: 0, charCpuBridge: 0, rtt: [], rttPaced: [], extKeys: false, fbFirst: null, fbAfterKeys: null,
    scrollRfb: 0, scrollWire: 0, scrollUpdates: 0, scrollCopyRects: 0, scrollCpuVm: 0, scrollCpuVcpu: 0, scrollCpuBridge: 0,
    fbAfterScroll: null, scrollVsRaw: 'not measured',
  };
  // (a), after one unmeasured connection (a panel's bridge is a long-running, warmed-up process)
  for (let i = 0; i < 3; i++) {
    const warm = await open(s, encs);
    await fullScreen(warm);
    warm.close();
    await sleep(200);
  }
  for (let i = 0; i < SCREENS; i++) {
    const c = await open(s, encs, res);
    if (c.width !== 1024 || c.height !== 768) throw new Error(`${s.name}: screen is ${c.width}x${c.height}`);
    const b0 = c.bytes, w0 = c.wireRead, f0 = c.chunks, cpu0 = s.cpu();
    await fullScreen(c);
    const cpu1 = s.cpu();
    res.fullFrames.push(c.chunks - f0);
    res.fullRfb.push(c.bytes - b0);
    res.fullWire.push(c.wireRead - w0);
    res.fullCpuVm.push(cpu1.vm - cpu0.vm);
    res.fullCpuBridge.push(cpu1.bridge - cpu0.bridge);
    if (c.fbExact) res.fbFirst = c.fb.slice();
    c.close();
    await sleep(200);
  }
  // (b), (c)
  const c = await open(s, encs);
  res.ws = `${c.wsProtocol}${c.wsExtensions ? `, ${c.wsExtensions}` : ''}`;
  await fullScreen(c);
  res.extKeys = c.extKeys;
  await sleep(300);
  const typeAndWait = async (i: number): Promise<{ ms: number; rfb: number; wire: number }> => {
    const [sym, scan] = i % 2 ? [0xff08, 0x0e] : [0x78, 0x2d]; // BackSpace / 'x'
    const b0 = c.bytes, w0 = c.wireRead;
    const t0 = performance.now();
    c.request(true);
    c.press(sym, scan);
    const got: Rect[] = [];
    for (;;) {
      const rects = await c.updateWithin(5000);
      if (!rects) {
        const seen = got.map((r) => `${r.w}x${r.h}+${r.x}+${r.y} ${ENCODING_NAMES[r.enc] ?? r.enc}`).join(', ') || 'none';
        throw new Error(`${s.name}: no glyph update for key ${i} (rectangles since the key: ${seen}); serial: ${JSON.stringify(s.serial.text.slice(-120))}`);
      }
      got.push(...rects);
      // The glyph's cell (8x16; QEMU sends 16-pixel-wide blocks), not a cursor-only (2-row) change.
      const glyph = rects.find((r) => !isPseudo(r) && r.h >= 7 && r.h <= 32 && r.w <= 64);
      if (glyph) return { ms: glyph.at - t0, rfb: c.bytes - b0, wire: c.wireRead - w0 };
      c.request(true);
    }
  };
  const cpu0 = s.cpu();
  for (let i = 0; i < SAMPLES; i++) {
    const r = await typeAndWait(i);
    res.rtt.push(r.ms);
    res.charRfb.push(r.rfb);
    res.charWire.push(r.wire);
  }
  const cpu1 = s.cpu();
  res.charCpuVm = (cpu1.vm - cpu0.vm) / SAMPLES;
  res.charCpuBridge = (cpu1.bridge - cpu0.bridge) / SAMPLES;
  if (GAP_MS > 0)
    for (let i = 0; i < SAMPLES; i++) {
      await sleep(GAP_MS);
      res.rttPaced.push((await typeAndWait(i)).ms);
    }
  // An even number of keys: the line is as before. Take whatever is still pending (the cursor).
  c.request(true);
  while (await c.updateWithin(300)) c.request(true);
  if (c.fbExact) res.fbAfterKeys = c.fb.slice();
  await scroll(s, c, res);
  c.close();
  for (const [k, v] of c.seen) res.encodings.set(k, (res.encodings.get(k) ?? 0) + v);
  return res;
}

/** (d) on the connection `c` (up to date, no request outstanding). */
async function scroll(s: Stack, c: RfbClient, res: Result): Promise<void> {
  await sleep(300);
  const b0 = c.bytes, w0 = c.wireRead, cpu0 = s.cpu();
  const copyRects0 = c.seen.get(ENC.copyRect) ?? 0;
  let typing = true;
  // noVNC: one incremental request outstanding, the next one sent when an update has arrived.
  const follow = async () => {
    c.request(true);
    for (;;) {
      const rects = await c.updateWithin(300);
      if (rects) {
        res.scrollUpdates++;
        c.request(true);
      } else if (!typing) return; // quiet for 300 ms after the last command (a request stays outstanding)
    }
  };
  const following = follow();
  for (let i = 0; i < SCROLL_CMDS; i++) {
    const at = s.serial.text.length;
    s.type(`echo scroll line ${i}\n`);
    await s.serial.wait(new RegExp(`\\nscroll line ${i}\\r?\\n`), 30_000, at);
    await sleep(SCROLL_GAP_MS);
  }
  typing = false;
  await following;
  const cpu1 = s.cpu();
  res.scrollRfb = c.bytes - b0;
  res.scrollWire = c.wireRead - w0;
  res.scrollCopyRects = (c.seen.get(ENC.copyRect) ?? 0) - copyRects0;
  res.scrollCpuVm = cpu1.vm - cpu0.vm;
  res.scrollCpuVcpu = cpu1.vcpu - cpu0.vcpu;
  res.scrollCpuBridge = cpu1.bridge - cpu0.bridge;
  if (!c.fbExact) {
    res.scrollVsRaw = 'not decoded';
    return;
  }
  res.fbAfterScroll = c.fb.slice();
  // What the server holds now, from scratch: a second connection asking for Raw only.
  const raw = await open(s, [ENC.raw]);
  await fullScreen(raw);
  res.scrollVsRaw = differ(res.fbAfterScroll, raw.fb);
  raw.close();
}

const differ = (a: Uint32Array | null, b: Uint32Array | null) => {
  if (!a || !b) return 'not decoded';
  if (a.length !== b.length) return 'different sizes';
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n ? `${n} pixels differ` : 'identical';
};

// ---- statistics ----

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2) : NaN;
};

// ---- run ----

progress('starting our VM + bridge and QEMU + websockify');
const stacks = [await startOurs(), await startQemu()];
progress('filling both screens with the same text');
for (const s of stacks) await fillScreen(s);

const runs: { label: string; stack: Stack; encs: readonly number[] }[] = [
  { label: 'ours', stack: stacks[0]!, encs: ZRLE_FIRST },
  { label: 'ours (noVNC order)', stack: stacks[0]!, encs: NOVNC_ENCODINGS },
  { label: 'qemu+websockify', stack: stacks[1]!, encs: ZRLE_FIRST },
  { label: 'qemu (noVNC order)', stack: stacks[1]!, encs: NOVNC_ENCODINGS },
];
const results = new Map<string, Result>();
for (const r of runs) {
  progress(`measuring ${r.label}: ${SCREENS} full screens, ${SAMPLES} keys back to back${GAP_MS ? `, ${SAMPLES} keys ${GAP_MS} ms apart` : ''}`);
  // The same 48 text lines before every run: (d) leaves its scrolled text behind otherwise.
  await fillScreen(r.stack);
  results.set(r.label, await measure(r.stack, r.encs));
}

// ---- report ----

const kib = (b: number) => (b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`);
const ms = (v: number) => `${v.toFixed(2)} ms`;
const cpuMs = (ns: number) => `${(ns / 1e6).toFixed(2)} ms`;
const cpuUs = (ns: number) => `${(ns / 1e3).toFixed(0)} us`;
type Row = [string, (r: Result) => number, (v: number) => string];
const rows: Row[] = [
  ['new connection: WS upgrade + RFB handshake CPU', (r) => median(r.connectCpuVm.map((v, i) => v + r.connectCpuBridge[i]!)), cpuMs],
  ['(a) full screen: RFB bytes', (r) => median(r.fullRfb), kib],
  ['(a) full screen: wire bytes', (r) => median(r.fullWire), kib],
  ['(a) full screen: WebSocket messages', (r) => median(r.fullFrames), (v) => String(v)],
  ['(a) full screen: CPU VM process', (r) => median(r.fullCpuVm), cpuMs],
  ['(a) full screen: CPU bridge', (r) => median(r.fullCpuBridge), cpuMs],
  ['(a) full screen: CPU total', (r) => median(r.fullCpuVm.map((v, i) => v + r.fullCpuBridge[i]!)), cpuMs],
  ['(b) echoed char: RFB bytes, median', (r) => median(r.charRfb), kib],
  ['(b) echoed char: wire bytes, median', (r) => median(r.charWire), kib],
  ['(b) echoed char: wire bytes, mean', (r) => r.charWire.reduce((a, b) => a + b, 0) / r.charWire.length, kib],
  ['(b) per key: CPU VM process (incl. guest)', (r) => r.charCpuVm, cpuUs],
  ['(b) per key: CPU bridge', (r) => r.charCpuBridge, cpuUs],
  ['(b) per key: CPU total', (r) => r.charCpuVm + r.charCpuBridge, cpuUs],
  ['(c) key -> glyph rect, median', (r) => median(r.rtt), ms],
  ['(c) key -> glyph rect, p90', (r) => quantile(r.rtt, 0.9), ms],
  ...(GAP_MS > 0
    ? ([
      [`(c) ${GAP_MS} ms between keys, median`, (r) => median(r.rttPaced), ms],
      [`(c) ${GAP_MS} ms between keys, p90`, (r) => quantile(r.rttPaced, 0.9), ms],
    ] as Row[])
    : []),
  ...(SCROLL_CMDS > 0
    ? ([
      [`(d) scroll ${2 * SCROLL_CMDS} text rows: RFB bytes`, (r) => r.scrollRfb, kib],
      [`(d) scroll ${2 * SCROLL_CMDS} text rows: wire bytes`, (r) => r.scrollWire, kib],
      ['(d) scroll: wire bytes per text row', (r) => r.scrollWire / (2 * SCROLL_CMDS), kib],
      ['(d) scroll: updates', (r) => r.scrollUpdates, (v) => String(v)],
      ['(d) scroll: CopyRect rectangles', (r) => r.scrollCopyRects, (v) => String(v)],
      ['(d) scroll: CPU VM process without vCPUs', (r) => r.scrollCpuVm - r.scrollCpuVcpu, cpuMs],
      ['(d) scroll: CPU bridge', (r) => r.scrollCpuBridge, cpuMs],
      ['(d) scroll: CPU server (VM w/o vCPUs + bridge)', (r) => r.scrollCpuVm - r.scrollCpuVcpu + r.scrollCpuBridge, cpuMs],
      ['(d) scroll: CPU vCPU threads (guest)', (r) => r.scrollCpuVcpu, cpuMs],
      ['(d) scroll: CPU total incl. guest', (r) => r.scrollCpuVm + r.scrollCpuBridge, cpuMs],
    ] as Row[])
    : []),
];
const labels = runs.map((r) => r.label);
const ours = results.get('ours')!;
const qemu = results.get('qemu+websockify')!;
const oursN = results.get('ours (noVNC order)')!;
const qemuN = results.get('qemu (noVNC order)')!;
const header = ['', ...labels, 'ours/qemu', 'ours/qemu (noVNC order)'];
const table: string[][] = [header];
for (const [label, get, fmt] of rows) {
  const ratio = (o: Result, q: Result) => (get(q) > 0 ? `${(get(o) / get(q)).toFixed(2)}x` : '-');
  table.push([label, ...labels.map((l) => fmt(get(results.get(l)!))), ratio(ours, qemu), ratio(oursN, qemuN)]);
}
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
const encName = (r: Result) =>
  [...r.encodings].filter(([e]) => e >= 0 || e === ENC.tightPng).map(([e, n]) => `${ENCODING_NAMES[e] ?? e} (${n} rects)`).join(', ');
const out: string[] = [];
out.push(`Console (VNC over WebSocket) benchmark: guest ${guest}, ${MEM_MIB} MiB, 1 vCPU, 1024x768 text screen,`);
out.push(`  ${SCREENS} full screens, ${SAMPLES} keys, ${SCROLL_CMDS} scroll commands ${SCROLL_GAP_MS} ms apart; client = noVNC's pixel format and encodings (ZRLE moved first, and noVNC's own order)`);
const encList = (encs: readonly number[]) => encs.filter((e) => ENCODING_NAMES[e] !== undefined).map((e) => ENCODING_NAMES[e]).join(' ');
for (const r of runs) out.push(`  ${r.label} requests: ${encList(r.encs)} (+ pseudo-encodings)`);
for (const l of labels) {
  const r = results.get(l)!;
  out.push(`  ${l}: encoding ${encName(r)}; WebSocket ${r.ws}; key events ${r.extKeys ? 'QEMU extended' : 'plain'}`);
}
for (const r of table) out.push(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));

const ok = (b: boolean) => (b ? 'PASS' : 'FAIL');
const textPixels = ours.fbFirst ? ours.fbFirst.reduce((n, p) => n + (p === 0xaaaaaa ? 1 : 0), 0) : 0;
out.push(`  decoded ZRLE pictures, ours vs qemu: first screen (${textPixels} text pixels) ${differ(ours.fbFirst, qemu.fbFirst)}; after ${GAP_MS > 0 ? 2 * SAMPLES : SAMPLES} keys ${differ(ours.fbAfterKeys, qemu.fbAfterKeys)}`);
if (SCROLL_CMDS > 0) {
  const scrolled = labels.map((l) => `${l} ${results.get(l)!.scrollVsRaw}`).join('; ');
  out.push(`  (d) after scrolling, the following client's picture vs a fresh Raw full screen: ${scrolled}; ours vs qemu: ${differ(ours.fbAfterScroll, qemu.fbAfterScroll)}`);
}
// The issue's figures: bytes and server CPU (VM process + bridge) of (a) and (b), and (c).
const TARGET_ROWS = new Set([
  'new connection: WS upgrade + RFB handshake CPU', '(a) full screen: wire bytes', '(a) full screen: CPU total',
  '(b) echoed char: wire bytes, median', '(b) per key: CPU total', '(c) key -> glyph rect, median', '(c) key -> glyph rect, p90',
]);
const worse = (pred: (label: string) => boolean, o = ours, q = qemu) => rows.filter(([l, get]) => pred(l) && !(get(o) <= get(q))).map(([l]) => l);
const worseTarget = worse((l) => TARGET_ROWS.has(l));
const worseTargetN = worse((l) => TARGET_ROWS.has(l), oursN, qemuN);
const worseOther = worse((l) => !TARGET_ROWS.has(l));
out.push('', 'targets (issue 4):');
out.push(`  (b) echoed char <= 1 KiB on the wire: ${kib(median(ours.charWire))} -> ${ok(median(ours.charWire) <= 1024)}`);
out.push(`  (c) key -> rect median < 15 ms: ${ms(median(ours.rtt))} -> ${ok(median(ours.rtt) < 15)}`);
out.push(`  bytes, server CPU (VM + bridge) and round trip no worse than qemu+websockify (ZRLE): ${worseTarget.length ? `FAIL (${worseTarget.join('; ')})` : 'PASS'}`);
out.push(`  the same with noVNC's own encoding order (each side picks its encoding): ${worseTargetN.length ? `FAIL (${worseTargetN.join('; ')})` : 'PASS'}`);
if (worseOther.length) out.push(`  note: breakdown rows above qemu+websockify: ${worseOther.join('; ')}`);
process.stdout.write(out.join('\n') + '\n');
killAll();
process.exit(0);
