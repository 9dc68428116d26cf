// A small RFB (VNC) client for tests and benches, over a unix socket (the VM
// process's socket) or a WebSocket (the panel's bridge, websockify). It speaks
// RFB 3.8 with security None, decodes Raw, CopyRect and ZRLE into `fb` (0x00RRGGBB per
// pixel, whatever 32 bpp true-colour format was set), and parses without
// decoding every other encoding and pseudo-encoding noVNC asks for (Tight,
// Cursor, LED state, ExtendedDesktopSize, ...), so byte counts and rectangle
// timing work with any server that answers noVNC's SetEncodings (`fbExact`
// says whether `fb` is still the server's picture).
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { constants as zconst, inflateSync } from 'node:zlib';

import WebSocket from 'ws';

export const ENC = {
  raw: 0,
  copyRect: 1,
  rre: 2,
  hextile: 5,
  zlib: 6,
  tight: 7,
  zrle: 16,
  jpeg: 21,
  tightPng: -260,
  desktopSize: -223,
  lastRect: -224,
  cursor: -239,
  qemuExtKey: -258,
  qemuAudio: -259,
  qemuLed: -261,
  desktopName: -307,
  extDesktopSize: -308,
  xvp: -309,
  fence: -312,
  continuousUpdates: -313,
  extMouseButtons: -316,
  vmwareCursor: 0x574d5664 | 0,
  extClipboard: 0xc0a1e5ce | 0,
  qualityLevel0: -32,
  compressLevel0: -256,
} as const;

export const ENCODING_NAMES: Record<number, string> = {
  0: 'Raw', 1: 'CopyRect', 2: 'RRE', 5: 'Hextile', 6: 'Zlib', 7: 'Tight', 16: 'ZRLE', 21: 'JPEG', [-260]: 'TightPNG',
};

/**
 * What noVNC 1.x (core/rfb.js `_sendEncodings`, 24-bit depth, no H.264 in
 * Node) sends, in its order, with its default quality 6 / compression 2.
 */
export const NOVNC_ENCODINGS: readonly number[] = [
  ENC.copyRect, ENC.tight, ENC.tightPng, ENC.zrle, ENC.jpeg, ENC.hextile, ENC.rre, ENC.zlib, ENC.raw,
  ENC.qualityLevel0 + 6, ENC.compressLevel0 + 2,
  ENC.desktopSize, ENC.lastRect, ENC.qemuExtKey, ENC.qemuLed, ENC.extDesktopSize, ENC.xvp, ENC.fence,
  ENC.continuousUpdates, ENC.desktopName, ENC.extClipboard, ENC.extMouseButtons, ENC.vmwareCursor, ENC.cursor,
];

export interface PixelFormat {
  bpp: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** noVNC's SetPixelFormat: 32 bpp, depth 24, little-endian, R in the lowest byte. */
export const NOVNC_PIXEL_FORMAT: PixelFormat = {
  bpp: 32, depth: 24, bigEndian: false, trueColour: true, redMax: 255, greenMax: 255, blueMax: 255,
  redShift: 0, greenShift: 8, blueShift: 16,
};

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
  enc: number;
  /** Encoded bytes of this rectangle after its 12-byte header. */
  bytes: number;
  /** performance.now() when its last byte was read. */
  at: number;
}

/** Raw byte pipe under the client. */
interface Transport {
  write(b: Buffer): void;
  close(): void;
  /** Bytes read / written on the underlying socket (WebSocket framing included). */
  wireRead(): number;
  wireWritten(): number;
}

export class RfbError extends Error {}

export class RfbClient {
  private buf: Buffer = Buffer.alloc(0);
  private want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private closed: Error | null = null;
  private transport!: Transport;
  width = 0;
  height = 0;
  name = '';
  serverFormat: PixelFormat | null = null;
  format: PixelFormat | null = null;
  fb = new Uint32Array(0);
  /** RFB bytes received (WebSocket payload, or socket bytes for unix). */
  bytes = 0;
  /** Chunks received: WebSocket messages, or socket reads for unix. */
  chunks = 0;
  /** The server acknowledged QEMU extended key events (pseudo-rect -258). */
  extKeys = false;
  /** Encodings seen in updates, by number: how many rectangles. */
  seen = new Map<number, number>();
  /** False once a rectangle was not decoded into `fb` (Tight, Zlib, ...). */
  fbExact = true;
  /** The ZRLE zlib stream so far (one per connection; re-inflated whole, fine for test-sized streams). */
  private zrleIn: Buffer[] = [];
  private zrleOutUsed = 0;
  /** Negotiated WebSocket subprotocol / extensions (WebSocket transport only). */
  wsProtocol = '';
  wsExtensions = '';

  private constructor() {}

  private feed(d: Buffer): void {
    this.bytes += d.length;
    this.chunks++;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.pump();
  }

  private end(e?: Error): void {
    this.closed ??= e ?? new RfbError('connection closed');
    if (this.want) this.want.reject(this.closed);
    this.want = null;
  }

  /** Connects to a unix (or TCP, `host:port` is not parsed: pass a path) socket. */
  static unix(path: string): Promise<RfbClient> {
    return new Promise((res, rej) => {
      const c = new RfbClient();
      const s: Socket = connect(path, () => {
        s.off('error', rej);
        res(c);
      });
      s.once('error', rej);
      s.setNoDelay?.(true);
      s.on('data', (d: Buffer) => c.feed(d));
      s.on('error', (e) => c.end(e));
      s.on('close', () => c.end());
      c.transport = {
        write: (b) => void s.write(b),
        close: () => s.destroy(),
        wireRead: () => s.bytesRead,
        wireWritten: () => s.bytesWritten,
      };
    });
  }

  /** Connects to a WebSocket URL with the `binary` subprotocol, as noVNC does. */
  static websocket(url: string, opts: { origin?: string; headers?: Record<string, string> } = {}): Promise<RfbClient> {
    return new Promise((res, rej) => {
      const c = new RfbClient();
      let sock: Socket | null = null;
      const ws = new WebSocket(url, ['binary'], {
        origin: opts.origin,
        headers: opts.headers,
        // Browsers offer permessage-deflate; whether it is used is the server's choice.
        perMessageDeflate: true,
        createConnection: (o: object) => {
          sock = connect(o as NetConnectOpts);
          sock.setNoDelay(true);
          return sock;
        },
      } as WebSocket.ClientOptions);
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => {
        ws.off('error', rej);
        c.wsProtocol = ws.protocol;
        c.wsExtensions = ws.extensions;
        res(c);
      });
      ws.once('error', rej);
      ws.once('unexpected-response', (_req, resp) => rej(new RfbError(`WebSocket upgrade refused: HTTP ${resp.statusCode}`)));
      ws.on('message', (d: Buffer) => c.feed(d));
      ws.on('error', (e) => c.end(e));
      ws.on('close', (code, reason) => c.end(new RfbError(`WebSocket closed: ${code} ${reason.toString()}`)));
      c.transport = {
        write: (b) => ws.send(b),
        close: () => ws.terminate(),
        wireRead: () => sock?.bytesRead ?? 0,
        wireWritten: () => sock?.bytesWritten ?? 0,
      };
    });
  }

  get wireRead(): number {
    return this.transport.wireRead();
  }

  get wireWritten(): number {
    return this.transport.wireWritten();
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
    if (this.want) return Promise.reject(new RfbError('concurrent reads'));
    if (this.buf.length >= n) {
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      return Promise.resolve(out);
    }
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.want = { n, resolve, reject };
    });
  }

  send(b: number[] | Buffer): void {
    this.transport.write(Buffer.isBuffer(b) ? b : Buffer.from(b));
  }

  /** RFB 3.8, security None, shared. Fills width/height/name/serverFormat. */
  async handshake(): Promise<void> {
    const v = (await this.read(12)).toString('latin1');
    if (!/^RFB 003\.\d{3}\n$/.test(v)) throw new RfbError(`not an RFB server: ${JSON.stringify(v)}`);
    if (v !== 'RFB 003.008\n') throw new RfbError(`server speaks ${v.trim()}, this client only 3.8`);
    this.send(Buffer.from('RFB 003.008\n'));
    const n = (await this.read(1))[0]!;
    if (n === 0) throw new RfbError(`server refused: ${(await this.read((await this.read(4)).readUInt32BE(0))).toString()}`);
    const types = [...(await this.read(n))];
    if (!types.includes(1)) throw new RfbError(`no security type None offered: ${types.join(',')}`);
    this.send([1]);
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new RfbError(`security result ${result}`);
    this.send([1]); // shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.serverFormat = readPixelFormat(init.subarray(4, 20));
    this.format = this.serverFormat;
    this.name = (await this.read(init.readUInt32BE(20))).toString();
    this.fb = new Uint32Array(this.width * this.height);
  }

  setPixelFormat(pf: PixelFormat): void {
    const b = Buffer.alloc(20);
    b[0] = 0;
    b[4] = pf.bpp;
    b[5] = pf.depth;
    b[6] = pf.bigEndian ? 1 : 0;
    b[7] = pf.trueColour ? 1 : 0;
    b.writeUInt16BE(pf.redMax, 8);
    b.writeUInt16BE(pf.greenMax, 10);
    b.writeUInt16BE(pf.blueMax, 12);
    b[14] = pf.redShift;
    b[15] = pf.greenShift;
    b[16] = pf.blueShift;
    this.send(b);
    this.format = pf;
  }

  setEncodings(encs: readonly number[]): void {
    const b = Buffer.alloc(4 + 4 * encs.length);
    b[0] = 2;
    b.writeUInt16BE(encs.length, 2);
    encs.forEach((e, i) => b.writeInt32BE(e | 0, 4 + 4 * i));
    this.send(b);
  }

  request(incremental: boolean, r = { x: 0, y: 0, w: this.width, h: this.height }): void {
    const b = Buffer.alloc(10);
    b[0] = 3;
    b[1] = incremental ? 1 : 0;
    b.writeUInt16BE(r.x, 2);
    b.writeUInt16BE(r.y, 4);
    b.writeUInt16BE(r.w, 6);
    b.writeUInt16BE(r.h, 8);
    this.send(b);
  }

  key(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b[0] = 4;
    b[1] = down ? 1 : 0;
    b.writeUInt32BE(keysym, 4);
    this.send(b);
  }

  /** QEMU extended key event: keysym plus the XT scancode (0xE0xx for extended keys). */
  qemuKey(keysym: number, scancode: number, down: boolean): void {
    const b = Buffer.alloc(12);
    b[0] = 255;
    b[1] = 0;
    b.writeUInt16BE(down ? 1 : 0, 2);
    b.writeUInt32BE(keysym, 4);
    b.writeUInt32BE(scancode, 8);
    this.send(b);
  }

  /** Extended key events when the server acknowledged them (as noVNC does), plain ones otherwise. */
  press(keysym: number, scancode: number): void {
    if (this.extKeys && scancode) {
      this.qemuKey(keysym, scancode, true);
      this.qemuKey(keysym, scancode, false);
    } else {
      this.key(keysym, true);
      this.key(keysym, false);
    }
  }

  pointer(x: number, y: number, buttons: number): void {
    const b = Buffer.alloc(6);
    b[0] = 5;
    b[1] = buttons;
    b.writeUInt16BE(x, 2);
    b.writeUInt16BE(y, 4);
    this.send(b);
  }

  /** Reads server messages until a FramebufferUpdate and returns its rectangles. */
  async update(): Promise<Rect[]> {
    for (;;) {
      const type = (await this.read(1))[0]!;
      switch (type) {
        case 0:
          return this.framebufferUpdate();
        case 1: { // SetColourMapEntries
          const h = await this.read(5);
          await this.read(6 * h.readUInt16BE(3));
          break;
        }
        case 2: // Bell
          break;
        case 3: { // ServerCutText (a negative length is the extended clipboard)
          const h = await this.read(7);
          await this.read(Math.abs(h.readInt32BE(3)));
          break;
        }
        case 150: // EndOfContinuousUpdates
          break;
        case 248: { // ServerFence
          const h = await this.read(8);
          await this.read(h[7]!);
          break;
        }
        default:
          throw new RfbError(`unexpected server message type ${type}`);
      }
    }
  }

  /** Like update(), but resolves null after `ms` (the read stays pending: call update() next). */
  private pending: Promise<Rect[]> | null = null;
  async updateWithin(ms: number): Promise<Rect[] | null> {
    if (!this.pending) {
      this.pending = this.update();
      this.pending.catch(() => undefined); // a close while nobody waits is not an unhandled rejection
    }
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.pending, new Promise<null>((res) => (timer = setTimeout(() => res(null), ms)))]);
    clearTimeout(timer);
    if (r) this.pending = null;
    return r;
  }

  private async framebufferUpdate(): Promise<Rect[]> {
    const hdr = await this.read(3);
    const rects: Rect[] = [];
    for (let i = hdr.readUInt16BE(1); i > 0; i--) {
      const r = await this.read(12);
      const rect: Rect = {
        x: r.readUInt16BE(0), y: r.readUInt16BE(2), w: r.readUInt16BE(4), h: r.readUInt16BE(6), enc: r.readInt32BE(8),
        bytes: 0, at: 0,
      };
      const before = this.bytes - this.buf.length;
      const last = await this.rectBody(rect);
      rect.bytes = this.bytes - this.buf.length - before;
      rect.at ||= performance.now();
      rects.push(rect);
      this.seen.set(rect.enc, (this.seen.get(rect.enc) ?? 0) + 1);
      if (last) break;
    }
    return rects;
  }

  /** Consumes one rectangle's data; true for LastRect. */
  private async rectBody(rect: Rect): Promise<boolean> {
    const bpp = (this.format?.bpp ?? 32) / 8;
    switch (rect.enc) {
      case ENC.raw: {
        const px = await this.read(rect.w * rect.h * bpp);
        if (bpp === 4) this.storeRaw(rect, px);
        return false;
      }
      case ENC.copyRect: {
        const src = await this.read(4);
        this.copyRect(rect, src.readUInt16BE(0), src.readUInt16BE(2));
        return false;
      }
      case ENC.zrle: {
        const data = await this.read((await this.read(4)).readUInt32BE(0));
        rect.at = performance.now(); // arrival, before decoding
        this.decodeZrle(rect, Buffer.from(data));
        return false;
      }
      case ENC.tight:
      case ENC.tightPng:
        await this.skipTight(rect);
        this.fbExact = false;
        return false;
      case ENC.hextile:
      case ENC.rre:
      case ENC.zlib:
        if (rect.enc === ENC.zlib) {
          await this.read((await this.read(4)).readUInt32BE(0));
          this.fbExact = false;
          return false;
        }
        throw new RfbError(`encoding ${rect.enc} is not parsed by this client`);
      case ENC.desktopSize:
        this.resize(rect.w, rect.h);
        return false;
      case ENC.extDesktopSize: {
        const n = (await this.read(4))[0]!;
        await this.read(16 * n);
        if (rect.y === 0) this.resize(rect.w, rect.h);
        return false;
      }
      case ENC.lastRect:
        return true;
      case ENC.cursor:
        await this.read(rect.w * rect.h * bpp + ((rect.w + 7) >> 3) * rect.h);
        return false;
      case ENC.qemuLed:
        await this.read(1);
        return false;
      case ENC.qemuExtKey:
        this.extKeys = true;
        return false;
      case ENC.qemuAudio:
        return false;
      case ENC.desktopName:
        await this.read((await this.read(4)).readUInt32BE(0));
        return false;
      default:
        throw new RfbError(`unknown rectangle encoding ${rect.enc}`);
    }
  }

  /** Tight / TightPNG framing (RFC 6143 extension, as noVNC parses it), skipped without decoding. */
  private async skipTight(rect: Rect): Promise<void> {
    const compactLength = async (): Promise<number> => {
      let len = 0;
      for (let i = 0; i < 3; i++) {
        const b = (await this.read(1))[0]!;
        len |= (i === 2 ? b : b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
      }
      return len;
    };
    // TPIXEL: 3 bytes for 32 bpp depth 24 true colour (what noVNC sets).
    const tpixel = this.format?.bpp === 32 && this.format.depth === 24 ? 3 : (this.format?.bpp ?? 32) / 8;
    const ctl = (await this.read(1))[0]! >> 4;
    if (ctl === 0x08) {
      await this.read(tpixel); // fill
      return;
    }
    if (ctl === 0x09 || ctl === 0x0a) {
      await this.read(await compactLength()); // JPEG / PNG
      return;
    }
    if (ctl > 0x07) throw new RfbError(`bad Tight compression control ${ctl}`);
    let filter = 0;
    if (ctl & 0x04) filter = (await this.read(1))[0]!;
    let rowBytes = rect.w * tpixel;
    if (filter === 1) {
      const colours = (await this.read(1))[0]! + 1;
      await this.read(colours * tpixel);
      rowBytes = colours === 2 ? (rect.w + 7) >> 3 : rect.w;
    } else if (filter !== 0 && filter !== 2) throw new RfbError(`bad Tight filter ${filter}`);
    const size = rowBytes * rect.h;
    await this.read(size < 12 ? size : await compactLength());
  }

  /** RFC 6143 7.7.6: 64x64 tiles of raw, solid, packed-palette, plain RLE or palette RLE CPIXELs. */
  private decodeZrle(rect: Rect, data: Buffer): void {
    const f = this.format!;
    if (f.bpp !== 32 || !f.trueColour) {
      this.fbExact = false;
      return;
    }
    this.zrleIn.push(data);
    const all = inflateSync(Buffer.concat(this.zrleIn), { finishFlush: zconst.Z_SYNC_FLUSH });
    const z = all.subarray(this.zrleOutUsed);
    this.zrleOutUsed = all.length;
    // CPIXEL: 3 bytes when every colour bit is in the low (or high) 3 bytes of the pixel.
    const bits = (f.redMax << f.redShift) | (f.greenMax << f.greenShift) | (f.blueMax << f.blueShift);
    const low = (bits & 0xff000000) === 0, high = (bits & 0xff) === 0;
    const cp = f.depth <= 24 && (low || high) ? 3 : 4;
    const skip = cp === 3 && !low ? 1 : 0; // which bytes of the 4 the CPIXEL keeps (little-endian order)
    let o = 0;
    const need = (n: number) => {
      if (o + n > z.length) throw new RfbError('ZRLE data ends inside a tile');
    };
    const pixel = (): number => {
      need(cp);
      let v = 0;
      if (f.bigEndian) {
        for (let i = 0; i < cp; i++) v = (v << 8) | z[o + i]!;
        if (cp === 3 && !low) v <<= 8;
      } else {
        for (let i = 0; i < cp; i++) v |= z[o + i]! << (8 * (i + skip));
      }
      o += cp;
      v >>>= 0;
      const r = ((v >>> f.redShift) & f.redMax) * 255 / f.redMax;
      const g = ((v >>> f.greenShift) & f.greenMax) * 255 / f.greenMax;
      const b = ((v >>> f.blueShift) & f.blueMax) * 255 / f.blueMax;
      return ((r << 16) | (g << 8) | b) >>> 0;
    };
    const runLength = (): number => {
      let n = 1;
      for (;;) {
        need(1);
        const b = z[o++]!;
        n += b;
        if (b !== 255) return n;
      }
    };
    for (let ty = 0; ty < rect.h; ty += 64)
      for (let tx = 0; tx < rect.w; tx += 64) {
        const tw = Math.min(64, rect.w - tx), th = Math.min(64, rect.h - ty);
        const tile = new Uint32Array(tw * th);
        need(1);
        const sub = z[o++]!;
        if (sub === 0) {
          for (let i = 0; i < tile.length; i++) tile[i] = pixel();
        } else if (sub === 1) {
          tile.fill(pixel());
        } else if (sub <= 16) {
          const pal = Array.from({ length: sub }, pixel);
          const bpi = sub === 2 ? 1 : sub <= 4 ? 2 : 4;
          for (let y = 0; y < th; y++) {
            let bit = 0;
            need(Math.ceil((tw * bpi) / 8));
            for (let x = 0; x < tw; x++) {
              const idx = (z[o + (bit >> 3)]! >> (8 - bpi - (bit & 7))) & ((1 << bpi) - 1);
              tile[y * tw + x] = pal[idx] ?? 0;
              bit += bpi;
            }
            o += Math.ceil((tw * bpi) / 8);
          }
        } else if (sub === 128) {
          for (let i = 0; i < tile.length;) {
            const p = pixel();
            const n = runLength();
            if (i + n > tile.length) throw new RfbError('ZRLE run past the tile');
            tile.fill(p, i, i + n);
            i += n;
          }
        } else if (sub >= 130) {
          const pal = Array.from({ length: sub - 128 }, pixel);
          for (let i = 0; i < tile.length;) {
            need(1);
            const b = z[o++]!;
            const n = b & 0x80 ? runLength() : 1;
            if (i + n > tile.length) throw new RfbError('ZRLE run past the tile');
            tile.fill(pal[b & 0x7f] ?? 0, i, i + n);
            i += n;
          }
        } else throw new RfbError(`ZRLE subencoding ${sub}`);
        for (let y = 0; y < th; y++)
          for (let x = 0; x < tw; x++) {
            const i = (rect.y + ty + y) * this.width + rect.x + tx + x;
            if (rect.x + tx + x < this.width && i < this.fb.length) this.fb[i] = tile[y * tw + x]!;
          }
      }
    if (o !== z.length) throw new RfbError(`ZRLE: ${z.length - o} bytes left after the rectangle`);
  }

  private resize(w: number, h: number): void {
    this.width = w;
    this.height = h;
    this.fb = new Uint32Array(w * h);
  }

  /** CopyRect: the source may overlap the destination, so copy through a temporary block. */
  private copyRect(rect: Rect, sx: number, sy: number): void {
    if (sx + rect.w > this.width || sy + rect.h > this.height || rect.x + rect.w > this.width || rect.y + rect.h > this.height) {
      throw new RfbError(`CopyRect outside the screen: ${rect.w}x${rect.h} from ${sx},${sy} to ${rect.x},${rect.y}`);
    }
    const block = new Uint32Array(rect.w * rect.h);
    for (let y = 0; y < rect.h; y++) block.set(this.fb.subarray((sy + y) * this.width + sx, (sy + y) * this.width + sx + rect.w), y * rect.w);
    for (let y = 0; y < rect.h; y++) this.fb.set(block.subarray(y * rect.w, (y + 1) * rect.w), (rect.y + y) * this.width + rect.x);
  }

  private storeRaw(rect: Rect, px: Buffer): void {
    const f = this.format!;
    for (let y = 0; y < rect.h; y++)
      for (let x = 0; x < rect.w; x++) {
        const v = f.bigEndian ? px.readUInt32BE((y * rect.w + x) * 4) : px.readUInt32LE((y * rect.w + x) * 4);
        const r = ((v >>> f.redShift) & f.redMax) * 255 / f.redMax;
        const g = ((v >>> f.greenShift) & f.greenMax) * 255 / f.greenMax;
        const b = ((v >>> f.blueShift) & f.blueMax) * 255 / f.blueMax;
        const i = (rect.y + y) * this.width + rect.x + x;
        if (i < this.fb.length) this.fb[i] = ((r << 16) | (g << 8) | b) >>> 0;
      }
  }

  close(): void {
    this.transport.close();
  }
}

function readPixelFormat(b: Buffer): PixelFormat {
  return {
    bpp: b[0]!, depth: b[1]!, bigEndian: b[2] !== 0, trueColour: b[3] !== 0,
    redMax: b.readUInt16BE(4), greenMax: b.readUInt16BE(6), blueMax: b.readUInt16BE(8),
    redShift: b[10]!, greenShift: b[11]!, blueShift: b[12]!,
  };
}

/** The `draw` pattern of native/guest/README.md. */
export function drawPattern(x: number, y: number, w: number, h: number): number {
  return ((Math.floor((x * 255) / (w - 1)) << 16) | (Math.floor((y * 255) / (h - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;
}

/** US keysyms for typed text (newline = Return). */
export function keysyms(text: string): number[] {
  return [...text].map((ch) => (ch === '\n' ? 0xff0d : ch.charCodeAt(0)));
}
