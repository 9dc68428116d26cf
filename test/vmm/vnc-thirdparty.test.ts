// A third-party VNC client against the VM process's RFB server: Debian's
// `vncsnapshot` (TightVNC 1.2.8 / RealVNC 3.3.7 code: RFB 3.3, its own pixel
// format with red in the low byte, Raw on a local connection) captures the
// test guest's screen through the VM's unix socket, bridged to TCP loopback
// by a small forwarder here. After `draw` the picture must be the pattern of
// native/guest/README.md. vncsnapshot writes JPEG only; at -quality 100 it is
// exact with Debian's libjpeg, but the check allows JPEG-sized errors (a
// wrong pixel format or a shifted rectangle is off by far more).
//
// Needs the Debian packages vncsnapshot (the client) and netpbm (jpegtopnm);
// installed here when missing and running as root, else the test is skipped
// with the reason.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { drawPattern } from '../support/rfbClient';
import { kvmUsable, prepareVmTests, removeTmp, ROOT, SerialLog } from '../../server/vm/testing';

const RUNNER = join(ROOT, 'native', 'build', 'kvmvmm-runner');
const PACKAGES: Record<string, string> = { vncsnapshot: 'vncsnapshot', jpegtopnm: 'netpbm' };

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why the test cannot run, or '' (installs the Debian packages when it may). */
function missingTools(): string {
  const missing = Object.keys(PACKAGES).filter((c) => !has(c));
  if (!missing.length) return '';
  const pkgs = missing.map((c) => PACKAGES[c]!);
  if (process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, stdio: 'ignore', timeout: 300_000 });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { env, stdio: 'ignore', timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, stdio: 'ignore', timeout: 300_000 });
    }
    if (!missing.filter((c) => !has(c)).length) return '';
  }
  return `${missing.join(', ')} not installed and could not be installed (apt-get install ${pkgs.join(' ')})`;
}

const noKvm = kvmUsable() ? '' : '/dev/kvm not usable';
const noTools = noKvm ? '' : missingTools();
const skipReason = noKvm || noTools;
if (skipReason) console.warn(`vnc-thirdparty: skipped: ${skipReason}`);

let guest = '';
let tmp = '';

beforeAll(() => {
  if (!skipReason) ({ guest, tmp } = prepareVmTests('vnc3p-'));
}, 600_000);

afterAll(() => removeTmp(tmp));

/** TCP loopback -> unix socket, one unix connection per TCP connection. */
function forward(path: string): Promise<{ server: Server; port: number }> {
  return new Promise((res, rej) => {
    const server = createServer((tcp) => {
      const unix = connect(path);
      tcp.pipe(unix).pipe(tcp);
      const end = () => (tcp.destroy(), unix.destroy());
      tcp.on('error', end);
      unix.on('error', end);
      tcp.on('close', end);
      unix.on('close', end);
    });
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      res({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

/** vncsnapshot -> JPEG -> jpegtopnm -> RGB pixels. */
async function snapshot(port: number, name: string): Promise<{ w: number; h: number; rgb: Buffer; log: string }> {
  const jpeg = join(tmp, `${name}.jpg`);
  // Asynchronous: the forwarder lives in this process's event loop.
  const log = await new Promise<string>((res, rej) => {
    const p = spawn('vncsnapshot', ['-quality', '100', `127.0.0.1::${port}`, jpeg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) res(out);
      else rej(new Error(`vncsnapshot exited ${code}:\n${out}`));
    });
  });
  const ppm = spawnSync('jpegtopnm', [jpeg], { maxBuffer: 64 << 20 });
  if (ppm.status !== 0) throw new Error(`jpegtopnm failed: ${ppm.stderr.toString()}`);
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(ppm.stdout.toString('latin1', 0, 64));
  if (!m) throw new Error('jpegtopnm: not an 8-bit P6 image');
  const w = Number(m[1]), h = Number(m[2]);
  return { w, h, rgb: ppm.stdout.subarray(m[0].length, m[0].length + w * h * 3), log };
}

describe.skipIf(!!skipReason)('third-party VNC client (vncsnapshot) on the VM process', () => {
  it('captures the text console, then exactly the `draw` pattern', async () => {
    const sock = join(tmp, 'vnc.sock');
    const child = spawn(RUNNER, ['--kernel', guest, '--memory', '64', '--vnc', `unix:${sock}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    const serial = new SerialLog();
    child.stdout.on('data', (d: Buffer) => serial.push(d));
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    let fwd: { server: Server; port: number } | undefined;
    try {
      await serial.wait(/guest ready/);
      fwd = await forward(sock);
      // The text console: mostly black, with the guest's light grey (0xAAAAAA) text.
      const text = await snapshot(fwd.port, 'text');
      expect([text.w, text.h]).toEqual([1024, 768]);
      expect(text.log).toMatch(/protocol version 3\.3/);
      let grey = 0, black = 0;
      for (let i = 0; i < text.w * text.h; i++) {
        const [r, g, b] = [text.rgb[i * 3]!, text.rgb[i * 3 + 1]!, text.rgb[i * 3 + 2]!];
        if (Math.abs(r - 0xaa) < 24 && Math.abs(g - 0xaa) < 24 && Math.abs(b - 0xaa) < 24) grey++;
        else if (r < 24 && g < 24 && b < 24) black++;
      }
      expect(grey).toBeGreaterThan(100);
      expect(black).toBeGreaterThan(text.w * text.h * 0.9);

      const at = serial.text.length;
      child.stdin.write('draw\n');
      await serial.wait(/draw checksum=95e9d0e1/, 15_000, at);
      // The RFB server sees the change within its collection interval; retry briefly.
      let worst = { mean: Infinity, max: Infinity, exact: 0 };
      for (let attempt = 0; attempt < 5 && worst.max > 8; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 200));
        const shot = await snapshot(fwd.port, `draw${attempt}`);
        expect([shot.w, shot.h]).toEqual([1024, 768]);
        let sum = 0, max = 0, exact = 0;
        for (let y = 0; y < shot.h; y++)
          for (let x = 0; x < shot.w; x++) {
            const p = drawPattern(x, y, shot.w, shot.h);
            const o = (y * shot.w + x) * 3;
            const d = [shot.rgb[o]! - (p >>> 16), shot.rgb[o + 1]! - ((p >>> 8) & 0xff), shot.rgb[o + 2]! - (p & 0xff)].map(Math.abs);
            sum += d[0]! + d[1]! + d[2]!;
            max = Math.max(max, ...d);
            if (d[0] === 0 && d[1] === 0 && d[2] === 0) exact++;
          }
        worst = { mean: sum / (shot.w * shot.h * 3), max, exact };
      }
      // JPEG at quality 100: a few levels at most (exact here); a wrong format or offset is off by tens.
      expect(worst.max, `pattern mismatch: mean ${worst.mean}, ${worst.exact} exact pixels`).toBeLessThanOrEqual(8);
      expect(worst.mean).toBeLessThan(1);
      child.stdin.write('poweroff\n');
      expect(await exit).toBe(0);
    } finally {
      fwd?.server.close();
      child.kill('SIGKILL');
    }
  }, 90_000);
});
