// The VM process end to end: `npm run vm -- ...` (scripts/vm.mjs, which runs
// the native runner native/build/kvmvmm-runner, the program the host agent
// starts too) booting the project's test guest (native/guest) on /dev/kvm.
// Serial on stdio or a unix socket (at most 32 clients), the control socket,
// the last VNC picture before exit, exit codes
// (server/vm/config.ts EXIT_CODES), disks, TAP networking, bad input.
// The framebuffer through VNC: server/vm/vnc.test.ts; the addon: addon.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { EXIT_CODES } from '../../server/vm/config';
import {
  controlRequest,
  kvmUsable,
  prepareVmTests,
  removeTmp,
  ROOT,
  runCli,
  SerialLog,
  waitForControl,
  type CliRun,
} from '../../server/vm/testing';
import { ENC, RfbClient } from '../support/rfbClient';

const canRun = kvmUsable();
let guest = '';
let tmp = '';
const running = new Set<CliRun>();

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests('runnertest-'));
}, 600_000);

afterEach(() => {
  for (const r of running) r.kill();
  running.clear();
});

afterAll(() => removeTmp(tmp));

function vm(args: string[]): CliRun {
  const r = runCli(args);
  running.add(r);
  void r.exit.then(() => running.delete(r));
  return r;
}

const base = () => ['--kernel', guest, '--memory', '64'];

/** stderr lines other than the once-per-VM PVM note. */
function errLines(r: CliRun): string[] {
  return r.stderr().trim().split('\n').filter((l) => l && !l.startsWith('note:'));
}

function emptyDisk(name: string): string {
  const disk = join(tmp, name);
  writeFileSync(disk, '');
  truncateSync(disk, 1 << 20);
  return disk;
}

// Set-1 make codes (QEMU qnum numbering) for typing through the control socket.
const QNUM: Record<string, number> = {
  e: 0x12, c: 0x2e, h: 0x23, o: 0x18, k: 0x25, b: 0x30, d: 0x20, ' ': 0x39, '\n': 0x1c,
};

/** What the test guest prints on the power button, just before it powers off (native/guest/power.c). */
const LAST_LINE = 'power button: shutting down';

/** The lit pixels of `n` text cells (8x16, native/guest/fb.c) from column `col` of text row `row`. */
function cellsKey(c: RfbClient, row: number, col: number, n: number): string {
  let k = '';
  for (let y = row * 16; y < row * 16 + 16; y++)
    for (let x = col * 8; x < (col + n) * 8; x++) k += c.fb[y * c.width + x] ? '1' : '0';
  return k;
}

describe('exit codes (server/vm/config.ts, what the agent reads)', () => {
  it('are distinct per reason; 0 is poweroff, 2 bad input', () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT_CODES).toMatchObject({ poweroff: 0, usage: 2, reset: 10, stopped: 15 });
  });
});

describe.skipIf(!canRun)('npm run vm (native runner)', () => {
  it('1 vCPU: echoes over COM1 (stdio) and exits 0 on poweroff', async () => {
    const r = vm([...base(), '--vcpus', '1']);
    await r.serial.wait(/guest ready vcpus=1 memory=64 boots=0\b/);
    const at = r.serial.text.length;
    r.send('echo hello\n');
    await r.serial.wait(/\nhello\r?\n/, 10_000, at);
    r.send('poweroff\n');
    expect(await r.exit).toBe(EXIT_CODES.poweroff);
    expect(errLines(r)).toEqual([expect.stringMatching(/^vm: poweroff: /)]);
  });

  it('2 vCPUs: both run (control status), reboot exits with the reset code', async () => {
    const ctl = join(tmp, 'smp.ctl');
    const r = vm([...base(), '--vcpus', '2', '--control', `unix:${ctl}`]);
    await r.serial.wait(/guest ready vcpus=2 /);
    const st = (await controlRequest(ctl, { cmd: 'status' })) as { stats: { vcpus: { exits: number }[] } };
    expect(st.stats.vcpus).toHaveLength(2);
    expect(st.stats.vcpus[0]!.exits).toBeGreaterThan(0);
    r.send('reboot\n');
    expect(await r.exit).toBe(EXIT_CODES.reset);
    expect(r.stderr()).toMatch(/^vm: reset: /m);
  });

  it('SIGTERM, SIGINT and SIGHUP reach the runner: exit 15 "stopped"', async () => {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const r = vm(base());
      await r.serial.wait(/guest ready/);
      r.child.kill(sig);
      expect(await r.exit, sig).toBe(EXIT_CODES.stopped);
      expect(r.stderr()).toMatch(/^vm: stopped: /m);
    }
  });

  it('draw: the guest paints its test pattern (checksum on COM1); without a framebuffer it says so', async () => {
    const r = vm(base());
    await r.serial.wait(/guest ready/);
    const at = r.serial.text.length;
    r.send('draw\n');
    await r.serial.wait(/draw checksum=95e9d0e1/, 30_000, at); // 1024x768, native/guest/README.md
    r.send('poweroff\n');
    expect(await r.exit).toBe(0);

    const n = vm([...base(), '--framebuffer', 'none']);
    await n.serial.wait(/guest ready/);
    n.send('draw\n');
    await n.serial.wait(/draw: no framebuffer/);
    n.send('poweroff\n');
    expect(await n.exit).toBe(0);
  }, 90_000);

  it('keys injected through the control socket reach the guest; pointer events leave it running', async () => {
    const ctl = join(tmp, 'keys.ctl');
    const r = vm([...base(), '--control', `unix:${ctl}`]);
    await r.serial.wait(/guest ready/);
    const at = r.serial.text.length;
    for (const ch of 'echo kbd\n') {
      expect(await controlRequest(ctl, { cmd: 'key', qnum: QNUM[ch], down: true })).toEqual({ ok: true });
      await controlRequest(ctl, { cmd: 'key', qnum: QNUM[ch], down: false });
    }
    await r.serial.wait(/\nkbd\r?\n/, 10_000, at);
    for (let i = 0; i < 20; i++) {
      expect(await controlRequest(ctl, { cmd: 'pointer', x: i * 10, y: i * 7, buttons: i & 1, wheel: i % 5 ? 0 : 1 })).toEqual({ ok: true });
    }
    const at2 = r.serial.text.length;
    r.send('echo still-alive\n');
    await r.serial.wait(/\nstill-alive\r?\n/, 10_000, at2);
    r.send('poweroff\n');
    expect(await r.exit).toBe(0);
  });

  it('powerbutton: the guest shuts down on the ACPI power button, exit 0, well under 1 s', async () => {
    const ctl = join(tmp, 'power.ctl');
    const r = vm([...base(), '--vcpus', '2', '--control', `unix:${ctl}`]);
    await r.serial.wait(/guest ready vcpus=2 /);
    const t0 = performance.now();
    expect(await controlRequest(ctl, { cmd: 'powerbutton' })).toEqual({ ok: true });
    const code = await r.exit;
    const ms = performance.now() - t0;
    expect(code).toBe(EXIT_CODES.poweroff);
    expect(r.serial.text).toMatch(/power button: shutting down\r?\n/);
    expect(r.stderr()).toMatch(/^vm: poweroff: /m);
    expect(ms).toBeLessThan(1000);
  });

  it('the disk boot counter persists across runs; a read-only disk refuses writes', async () => {
    const disk = emptyDisk('disk.img');
    for (const n of [1, 2]) {
      const r = vm([...base(), '--disk', disk]);
      await r.serial.wait(new RegExp(`guest ready .*boots=${n}\\b`));
      const at = r.serial.text.length;
      r.send('disk\n');
      await r.serial.wait(new RegExp(`disk boots=${n}\\b`), 10_000, at);
      r.send('poweroff\n');
      expect(await r.exit).toBe(0);
    }
    const before = readFileSync(disk);
    const r = vm([...base(), `--disk=${disk},ro`]);
    await r.serial.wait(/disk: write failed/);
    await r.serial.wait(/guest ready .*boots=2\b/);
    r.send('poweroff\n');
    expect(await r.exit).toBe(0);
    expect(readFileSync(disk).equals(before)).toBe(true);
  }, 90_000);

  it('serial on a unix socket replays the boot log; VNC greets; control: status, errors, stop; pid file', async () => {
    const sock = join(tmp, 'serial.sock');
    const ctl = join(tmp, 'control.sock');
    const vnc = join(tmp, 'vnc.sock');
    const pid = join(tmp, 'vm.pid');
    const r = vm([...base(), '--serial', `unix:${sock}`, '--control', `unix:${ctl}`, '--vnc', `unix:${vnc}`, '--pid-file', pid]);
    const st = await waitForControl(ctl);
    // npm run vm is a parent of the runner: the pid is the runner's own.
    expect(st).toMatchObject({ ok: true, state: 'running', exit: null, framebuffer: { width: 1024, height: 768 } });
    expect((st.stats as { vcpus: unknown[] }).vcpus).toHaveLength(1);
    expect(readFileSync(pid, 'utf8').trim()).toBe(String(st.pid));
    expect(await controlRequest(ctl, { cmd: 'frobnicate' })).toEqual({ ok: false, error: 'unknown cmd' });
    expect(await controlRequest(ctl, [1, 2])).toEqual({ ok: false, error: 'bad JSON' });
    const greeting = await new Promise<string>((res, rej) => {
      const v = connect(vnc);
      v.on('error', rej);
      v.once('data', (d) => {
        v.destroy();
        res(d.toString('latin1'));
      });
    });
    expect(greeting).toMatch(/^RFB 003\.00[38]\n/);
    expect((await controlRequest(ctl, { cmd: 'status' })).vnc).toMatchObject({ accepted: 1, missedRects: expect.any(Number) });
    // Attach late: the replay must carry the ready line.
    await new Promise((res) => setTimeout(res, 300));
    const log = new SerialLog();
    const c = connect(sock);
    c.on('data', (d) => log.push(d));
    await log.wait(/guest ready/);
    const at = log.text.length;
    c.write('echo via-socket\n');
    await log.wait(/via-socket\r?\n/, 10_000, at);
    expect(await controlRequest(ctl, { cmd: 'stop' })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.stopped);
    c.destroy();
    expect(existsSync(pid)).toBe(false);
    expect(existsSync(ctl)).toBe(false);
  });

  it('CONFIG.json as the agent writes it (server/agent/local.ts); a bad one is one error line, exit 2', async () => {
    const disk = emptyDisk('cfg-disk.img');
    const ctl = join(tmp, 'cfg-control.sock');
    const cfg = join(tmp, 'vm.json');
    const config = {
      id: 'vm1', name: 'test', memoryMiB: 64, vcpus: 2, kernel: guest, cmdline: '',
      disks: [{ path: disk }], serial: 'stdio', control: `unix:${ctl}`, pidFile: join(tmp, 'cfg.pid'),
    };
    writeFileSync(cfg, JSON.stringify(config, null, 2));
    const r = vm([cfg]);
    await r.serial.wait(/guest ready vcpus=2 memory=64 boots=1\b/);
    expect(await controlRequest(ctl, { cmd: 'stop' })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.stopped);

    for (const bad of ['{', JSON.stringify({ ...config, memoryMiB: 4 }), JSON.stringify({ ...config, disks: [{}] }), JSON.stringify({ ...config, kernel: 5 })]) {
      writeFileSync(cfg, bad);
      const b = vm([cfg]);
      expect(await b.exit).toBe(EXIT_CODES.usage);
      expect(errLines(b), b.stderr()).toEqual([expect.stringMatching(/^error: config/)]);
    }
  });

  it('bad arguments, a missing, corrupt or empty kernel, too little memory: one line, exit 2', async () => {
    const corrupt = join(tmp, 'bad-kernel');
    writeFileSync(corrupt, Buffer.alloc(4096, 0x5a));
    const empty = join(tmp, 'empty-kernel');
    writeFileSync(empty, '');
    const cases: [string[], RegExp][] = [
      [['--memory', '64'], /--kernel FILE is required/],
      [['--kernel', guest, '--frobnicate'], /unknown argument/],
      [['--kernel', guest, '--vcpus', 'two'], /whole number/],
      [['--kernel', guest, '--memory', '4'], /at least 16 MiB/],
      [['--kernel', join(tmp, 'no-such-kernel')], /kernel.*No such file/],
      [['--kernel', corrupt], /kernel/],
      [['--kernel', empty], /kernel/],
      [['--kernel', guest, '--disk', join(tmp, 'no-such-disk')], /disk/],
    ];
    for (const [args, re] of cases) {
      const r = vm(args);
      expect(await r.exit, args.join(' ')).toBe(EXIT_CODES.usage);
      const lines = r.stderr().trim().split('\n');
      expect(lines, r.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(re);
      expect(r.serial.text).toBe('');
    }
    const h = vm(['--help']);
    expect(await h.exit).toBe(0);
    expect(h.serial.text).toMatch(/^usage: npm run vm -- --kernel FILE/);
  }, 60_000);

  it('VNC: the last picture before the VM exits reaches the viewer (the power button line)', async () => {
    const ctl = join(tmp, 'last.ctl');
    const vnc = join(tmp, 'last.vnc');
    const r = vm([...base(), '--control', `unix:${ctl}`, '--vnc', `unix:${vnc}`]);
    await r.serial.wait(/guest ready/);
    // The same words as the guest's last line, printed by `echo` first: a
    // reference rendering in the same font (the prompt follows once it is drawn).
    const at = r.serial.text.length;
    r.send(`echo ${LAST_LINE}\n`);
    await r.serial.wait(new RegExp(`\\n${LAST_LINE}\\r?\\n> `), 10_000, at);
    const c = await RfbClient.unix(vnc);
    await c.handshake();
    c.setEncodings([ENC.raw, ENC.desktopSize]);
    c.request(false);
    await c.update();
    const n = LAST_LINE.length;
    let ref = '';
    for (let y = 1; y < c.height / 16 && !ref; y++) {
      const k = cellsKey(c, y, 0, n); // `echo`'s output row, under the "> echo ..." row
      if (k.includes('1') && k === cellsKey(c, y - 1, '> echo '.length, n)) ref = k;
    }
    expect(ref, 'the echoed line on the screen').not.toBe('');
    const shown = () => Array.from({ length: c.height / 16 }, (_, y) => cellsKey(c, y, 2, n)).includes(ref);
    expect(shown()).toBe(false); // not yet after a prompt
    // A viewer that keeps asking, as noVNC does, until the connection closes.
    let updates = 0;
    const viewer = (async () => {
      for (;;) {
        c.request(true);
        try {
          await c.update();
        } catch {
          return;
        }
        updates++;
      }
    })();
    expect(await controlRequest(ctl, { cmd: 'powerbutton' })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.poweroff);
    await viewer;
    expect(r.serial.text).toMatch(/> power button: shutting down\r?\n/);
    expect(updates).toBeGreaterThan(0);
    expect(shown(), '"> power button: shutting down" in the last picture').toBe(true);
  }, 60_000);

  it('serial on a unix socket: at most 32 clients; one more is told so and closed', async () => {
    const sock = join(tmp, 'cap.sock');
    const ctl = join(tmp, 'cap.ctl');
    const r = vm([...base(), '--serial', `unix:${sock}`, '--control', `unix:${ctl}`]);
    await waitForControl(ctl);
    // One connection at a time: beyond the listen backlog a unix connect fails (EAGAIN).
    const attach = async () => {
      for (let i = 0; ; i++) {
        const log = new SerialLog();
        const s = connect(sock);
        s.on('data', (d) => log.push(d));
        s.on('error', () => {}); // a reset shows as 'close'
        const closed = new Promise<'closed'>((res) => s.on('close', () => res('closed')));
        if (await new Promise<boolean>((res) => (s.once('connect', () => res(true)), s.once('error', () => res(false))))) {
          return { s, log, closed };
        }
        expect(i).toBeLessThan(50);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const clients = [];
    for (let i = 0; i < 32; i++) clients.push(await attach());
    await Promise.all(clients.map((c) => c.log.wait(/guest ready/)));
    const extra = await attach();
    await extra.closed;
    expect(extra.log.text).toBe('too many serial clients\n');
    // A place frees when a client leaves (once the runner has seen it go).
    clients.shift()!.s.destroy();
    for (let i = 0; ; i++) {
      const c = await attach();
      const ready = c.log.wait(/guest ready/).then(() => 'ready' as const, () => 'timeout' as const);
      const got = await Promise.race([c.closed, ready]);
      if (got === 'ready') {
        clients.push(c);
        break;
      }
      expect(c.log.text).toBe('too many serial clients\n');
      expect(i).toBeLessThan(100);
      await new Promise((res) => setTimeout(res, 20));
    }
    const at = clients.map((c) => c.log.text.length);
    clients[0]!.s.write('echo cap-ok\n');
    await Promise.all(clients.map((c, i) => c.log.wait(/\ncap-ok\r?\n/, 10_000, at[i])));
    expect(await controlRequest(ctl, { cmd: 'stop' })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.stopped);
    for (const c of clients) c.s.destroy();
  }, 60_000);
});

const tapOk = canRun && process.getuid?.() === 0 && spawnSync('test', ['-c', '/dev/net/tun']).status === 0 &&
  spawnSync('ip', ['-V']).status === 0 && spawnSync('python3', ['-c', 'import socket; socket.AF_PACKET']).status === 0;

describe.skipIf(!tapOk)('npm run vm: virtio-net over TAP', () => {
  it('the guest hello reaches the host and a host frame is echoed back', async () => {
    const tap = `kvmt${process.pid % 100000}`;
    const mac = '52:54:00:12:34:56';
    const ip = (...a: string[]) => spawnSync('ip', a, { stdio: 'ignore' }).status;
    expect(ip('tuntap', 'add', 'dev', tap, 'mode', 'tap')).toBe(0);
    try {
      expect(ip('link', 'set', 'dev', tap, 'up')).toBe(0);
      const r = vm([...base(), '--net', `tap:${tap},mac=${mac}`]);
      await r.serial.wait(/guest ready/);
      const probe = spawn('python3', [join(ROOT, 'test', 'vmm', 'tap-probe.py'), tap, mac], { stdio: ['ignore', 'pipe', 'inherit'] });
      const plog = new SerialLog();
      probe.stdout.on('data', (d: Buffer) => plog.push(d));
      const probeExit = new Promise<number | null>((res) => probe.on('exit', res));
      await plog.wait(/listening/);
      r.send('net\n');
      await r.serial.wait(/net: sent/);
      expect(await probeExit).toBe(0);
      expect(plog.text).toMatch(/hello-ok\necho-ok/);
      r.send('poweroff\n');
      expect(await r.exit).toBe(0);
    } finally {
      ip('link', 'del', tap);
    }
  });
});
