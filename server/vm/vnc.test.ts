// The VM's RFB (VNC) server end to end: `npm run vm -- --vnc unix:PATH`
// boots the test guest; a tiny RFB client written here connects over the
// unix socket, reads the screen, types on the guest's keyboard through RFB
// key events, and checks the `draw` pattern pixel for pixel.
//
// VNC_BENCH=1 also measures bytes and latency (printed, not asserted).
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { kvmUsable, prepareVmTests, removeTmp, runCli } from "./testing";

const canRun = kvmUsable();
let guest = "";
let tmp = "";

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests("vnctest-", "bundles"));
}, 600_000);

afterAll(() => removeTmp(tmp));

/** Minimal RFB 3.8 client: Raw decoding (32bpp native format), ZRLE byte counting only. */
class RfbClient {
  private buf: Buffer = Buffer.alloc(0);
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private closed: Error | null = null;
  width = 0;
  height = 0;
  fb = new Uint32Array(0);
  bytes = 0;

  private constructor(private sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.bytes += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.pump();
    });
    const end = (e?: Error) => {
      this.closed = e ?? new Error("connection closed");
      if (this.want) this.want.reject(this.closed);
      this.want = null;
    };
    sock.on("error", end);
    sock.on("close", () => end());
  }

  static open(path: string): Promise<RfbClient> {
    return new Promise((res, rej) => {
      const s = connect(path, () => res(new RfbClient(s)));
      s.once("error", rej);
    });
  }

  private pump(): void {
    if (this.want && this.buf.length >= this.want.n) {
      const w = this.want;
      this.want = null;
      const out = this.buf.subarray(0, w.n);
      this.buf = this.buf.subarray(w.n);
      w.resolve(out);
    }
  }

  read(n: number): Promise<Buffer> {
    if (this.closed && this.buf.length < n) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
      this.pump();
    });
  }

  send(b: number[] | Buffer): void {
    this.sock.write(Buffer.isBuffer(b) ? b : Buffer.from(b));
  }

  async handshake(): Promise<void> {
    const v = (await this.read(12)).toString();
    expect(v).toBe("RFB 003.008\n");
    this.send(Buffer.from("RFB 003.008\n"));
    const n = (await this.read(1))[0]!;
    const types = [...(await this.read(n))];
    expect(types).toContain(1);
    this.send([1]);
    expect((await this.read(4)).readUInt32BE(0)).toBe(0);
    this.send([1]); // shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    await this.read(init.readUInt32BE(20)); // name
    this.fb = new Uint32Array(this.width * this.height);
  }

  setEncodings(encs: number[]): void {
    const b = Buffer.alloc(4 + 4 * encs.length);
    b[0] = 2;
    b.writeUInt16BE(encs.length, 2);
    encs.forEach((e, i) => b.writeInt32BE(e, 4 + 4 * i));
    this.send(b);
  }

  request(incremental: boolean): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(this.width, 6);
    b.writeUInt16BE(this.height, 8);
    this.send(b);
  }

  key(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b[0] = 4;
    b[1] = down ? 1 : 0;
    b.writeUInt32BE(keysym, 4);
    this.send(b);
  }

  /** One FramebufferUpdate; returns its rectangles. */
  async update(): Promise<{ x: number; y: number; w: number; h: number; enc: number }[]> {
    const hdr = await this.read(4);
    expect(hdr[0]).toBe(0);
    const rects = [];
    for (let i = hdr.readUInt16BE(2); i > 0; i--) {
      const r = await this.read(12);
      const rect = { x: r.readUInt16BE(0), y: r.readUInt16BE(2), w: r.readUInt16BE(4), h: r.readUInt16BE(6), enc: r.readInt32BE(8) };
      rects.push(rect);
      if (rect.enc === 0) {
        const px = await this.read(rect.w * rect.h * 4);
        for (let y = 0; y < rect.h; y++)
          for (let x = 0; x < rect.w; x++)
            this.fb[(rect.y + y) * this.width + rect.x + x] = px.readUInt32LE((y * rect.w + x) * 4) & 0xffffff;
      } else if (rect.enc === 16) {
        await this.read((await this.read(4)).readUInt32BE(0)); // counted, not decoded
      } else if (rect.enc === -223) {
        this.width = rect.w;
        this.height = rect.h;
        this.fb = new Uint32Array(rect.w * rect.h);
      }
    }
    return rects;
  }

  close(): void {
    this.sock.destroy();
  }
}

function drawPattern(x: number, y: number, w: number, h: number): number {
  return ((Math.floor((x * 255) / (w - 1)) << 16) | (Math.floor((y * 255) / (h - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;
}

function patternMismatches(c: RfbClient): number {
  let bad = 0;
  for (let y = 0; y < c.height; y++)
    for (let x = 0; x < c.width; x++) if (c.fb[y * c.width + x] !== drawPattern(x, y, c.width, c.height)) bad++;
  return bad;
}

// US keysyms for the text typed through RFB.
function keysyms(text: string): number[] {
  return [...text].map((ch) => (ch === "\n" ? 0xff0d : ch.charCodeAt(0)));
}

describe.skipIf(!canRun)("VNC server of the VM process", () => {
  it("serves the screen, takes keys, and shows `draw` exactly", async () => {
    const sock = join(tmp, "vm.vnc");
    const r = runCli(["--kernel", guest, "--memory", "64", "--vnc", `unix:${sock}`]);
    try {
      await r.serial.wait(/guest ready/);
      const c = await RfbClient.open(sock);
      await c.handshake();
      expect([c.width, c.height]).toEqual([1024, 768]);
      c.setEncodings([0, -223]);
      c.request(false);
      await c.update();
      // The console's text: light grey on black somewhere on the first rows.
      expect(c.fb.subarray(0, c.width * 32).some((p) => p === 0xaaaaaa)).toBe(true);

      // Keys through RFB reach the guest's PS/2 keyboard.
      const at = r.serial.text.length;
      for (const k of keysyms("echo hello\n")) {
        c.key(k, true);
        c.key(k, false);
      }
      await r.serial.wait(/\nhello\r?\n/, 15_000, at);

      // `draw`, then incremental updates until the screen settles on the pattern.
      const at2 = r.serial.text.length;
      r.send("draw\n");
      await r.serial.wait(/draw checksum=95e9d0e1/, 15_000, at2);
      let bad = -1;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        c.request(true);
        await c.update();
        bad = patternMismatches(c);
        if (bad === 0) break;
      }
      expect(bad).toBe(0);
      c.close();
      r.send("poweroff\n");
      expect(await r.exit).toBe(0);
    } finally {
      r.child.kill("SIGKILL");
    }
  }, 90_000);

  it.skipIf(!process.env.VNC_BENCH)("measures bytes and latency (VNC_BENCH=1)", async () => {
    const sock = join(tmp, "bench.vnc");
    const ctl = join(tmp, "bench.ctl");
    const r = runCli(["--kernel", guest, "--memory", "64", "--vnc", `unix:${sock}`, "--control", `unix:${ctl}`]);
    const status = async (): Promise<{ vnc: Record<string, number> }> =>
      new Promise((res, rej) => {
        const s = connect(ctl, () => s.write('{"cmd":"status"}\n'));
        let t = "";
        s.on("data", (d) => {
          t += d.toString();
          if (t.includes("\n")) {
            s.destroy();
            res(JSON.parse(t));
          }
        });
        s.on("error", rej);
      });
    try {
      await r.serial.wait(/guest ready/);
      // Fill the screen with text first: a realistic console.
      // Distinct pseudo-random words on every line (no repetition for zlib to exploit).
      let seed = 12345;
      const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      const word = () => Array.from({ length: 2 + Math.floor(rnd() * 8) }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join("");
      for (let i = 0; i < 50; i++) r.send(`echo ${i} ${Array.from({ length: 9 }, word).join(" ")} end${i}\n`);
      await r.serial.wait(/\nend49\r?\n|end49\r\n/);
      await new Promise((res) => setTimeout(res, 300));
      const c = await RfbClient.open(sock);
      await c.handshake();
      c.setEncodings([16, 0, -223]);
      const b0 = c.bytes;
      c.request(false);
      await c.update();
      const full = c.bytes - b0;
      const s1 = (await status()).vnc;
      // (b)+(c): one key -> the update that shows the echoed glyph, 200 times
      // (alternating a letter and BackSpace so the line does not grow). The
      // guest may redraw its cursor on its own (a 16x2 rect); we wait for the
      // glyph cell (at least 7 rows high) and count every byte until then.
      const times: number[] = [];
      const sizes: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < 200; i++) {
        const k = i % 2 ? 0xff08 : 0x78;
        const before = c.bytes;
        const t0 = process.hrtime.bigint();
        c.request(true);
        c.key(k, true);
        c.key(k, false);
        let glyph = false;
        while (!glyph) {
          const got = await Promise.race([c.update(), new Promise<null>((res) => setTimeout(() => res(null), 3000))]);
          if (got === null) throw new Error(`no glyph update for key ${i}: ${r.serial.text.slice(-80)}`);
          glyph = got.some((rc) => rc.h >= 7 && rc.h <= 32 && rc.w <= 32);
          if (!glyph) c.request(true);
        }
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        sizes.push(c.bytes - before);
        if (i < 20) cpu.push((await status()).vnc.lastUpdateCpuNs!);
      }
      const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
      console.log(
        `vnc bench: full screen ${full} bytes (ZRLE), encode cpu ${(s1.lastUpdateCpuNs! / 1e6).toFixed(2)} ms; ` +
          `echoed char update median ${med(sizes)} bytes, encode cpu median ${(med(cpu) / 1e3).toFixed(0)} us; ` +
          `key->rect round trip median ${med(times).toFixed(2)} ms (p10 ${[...times].sort((a, b) => a - b)[20]!.toFixed(2)}, p90 ${[...times].sort((a, b) => a - b)[180]!.toFixed(2)})`,
      );
      // Idle: one incremental request pending, nothing changes for 2 s.
      const idle0 = (await status()).vnc;
      c.request(true);
      await new Promise((res) => setTimeout(res, 2000));
      const end = (await status()).vnc;
      console.log(
        `vnc bench: idle with a request pending: ${((end.cpuNs! - idle0.cpuNs!) / 2e7).toFixed(2)}% of a core, ` +
          `${end.collections! - idle0.collections!} collections in 2 s, ${end.updates! - idle0.updates!} updates`,
      );
      console.log(
        `vnc bench: server thread cpu ${(end.cpuNs! / 1e6).toFixed(1)} ms total, ${end.collections} collections, ` +
          `${end.updates} updates, ${end.missedRects} rects found only by the safety sweep`,
      );
      c.close();
      r.send("poweroff\n");
      expect(await r.exit).toBe(0);
    } finally {
      r.child.kill("SIGKILL");
    }
  }, 120_000);
});

