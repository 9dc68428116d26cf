// Opening the panel's console WebSockets as a browser would (ticket in the
// path, session cookie, Origin), for the console tests.
import WebSocket from 'ws';
import { jarOf } from './server';

export function cookieOf(c: object): string {
  return [...jarOf(c)].map(([k, v]) => `${k}=${v}`).join('; ');
}

export type Opened = { ws: WebSocket; col: Collector; status: 101 } | { ws: null; col: null; status: number; body: string };

/** Opens `path`; resolves with the socket, or with the HTTP status of a refused upgrade. */
export function openConsole(baseUrl: string, path: string, opts: { cookie?: string; origin?: string | null; protocols?: string[] } = {}): Promise<Opened> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  const origin = opts.origin === undefined ? baseUrl : opts.origin;
  if (origin) headers.origin = origin;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, opts.protocols ?? [], { headers, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    // Listening from the start: the first frames can arrive with the 101 response.
    const col = new Collector(ws);
    ws.once('open', () => resolve({ ws, col, status: 101 }));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => { req.destroy(); resolve({ ws: null, col: null, status: res.statusCode ?? 0, body }); });
    });
    ws.once('error', reject);
  });
}

/** Collects what a console sends, and how it closed. */
export class Collector {
  data = Buffer.alloc(0);
  bytes = 0;
  closed: Promise<{ code: number; reason: string; at: number }>;
  private waiters: (() => void)[] = [];

  /** false: count bytes only (long runs). */
  keep = true;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      this.bytes += d.length;
      if (this.keep) this.data = Buffer.concat([this.data, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString(), at: Date.now() })));
  }

  text(): string {
    return this.data.toString('latin1');
  }

  /** Waits until at least `n` bytes arrived. */
  async bytesAtLeast(n: number, ms = 10_000): Promise<Buffer> {
    const until = Date.now() + ms;
    while (this.data.length < n) {
      if (Date.now() > until) throw new Error(`timeout: ${this.data.length}/${n} bytes`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.data;
  }

  async until(re: RegExp, ms = 10_000, from = 0): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const t = this.data.subarray(from).toString('latin1');
      if (re.test(t)) return t;
      if (Date.now() > until) throw new Error(`timeout waiting for ${re}: ${JSON.stringify(t.slice(-300))}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }
}
