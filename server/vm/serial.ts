// Where a VM's COM1 goes: the terminal (stdio) or a unix socket that any
// number of clients attach to. Recent output is kept in a bounded ring and
// replayed to each new client, so a console opened late shows the boot log.
import { unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";

export class OutputRing {
  private buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number) {
    this.buf = Buffer.alloc(capacity);
  }

  push(data: Uint8Array): void {
    if (data.length >= this.capacity) {
      Buffer.from(data.buffer, data.byteOffset, data.length).copy(this.buf, 0, data.length - this.capacity);
      this.start = 0;
      this.len = this.capacity;
      return;
    }
    let end = (this.start + this.len) % this.capacity;
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.capacity - end);
      this.buf.set(data.subarray(off, off + n), end);
      off += n;
      end = (end + n) % this.capacity;
    }
    this.len += data.length;
    if (this.len > this.capacity) {
      this.start = (this.start + this.len - this.capacity) % this.capacity;
      this.len = this.capacity;
    }
  }

  contents(): Buffer {
    const first = this.buf.subarray(this.start, Math.min(this.start + this.len, this.capacity));
    const rest = this.len - first.length;
    return rest > 0 ? Buffer.concat([first, this.buf.subarray(0, rest)]) : Buffer.from(first);
  }
}

/**
 * Input with backpressure: bytes the UART refused wait here, in order, and
 * are retried when the guest drains its receive buffer.
 */
export class SerialInput {
  private pending: Buffer[] = [];
  constructor(
    private write: (b: Uint8Array) => number,
    private onBlocked: (blocked: boolean) => void,
  ) {}

  push(data: Buffer): void {
    this.pending.push(data);
    this.flush();
  }

  flush(): void {
    while (this.pending.length) {
      const head = this.pending[0]!;
      const n = this.write(head);
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        this.onBlocked(true);
        return;
      }
      this.pending.shift();
    }
    this.onBlocked(false);
  }
}

export class SerialSocketHub {
  private server: Server;
  private clients = new Set<Socket>();
  private paused = false;

  constructor(
    readonly path: string,
    private ring: OutputRing,
    private input: (data: Buffer) => void,
  ) {
    try {
      unlinkSync(path);
    } catch {
      /* not there */
    }
    this.server = createServer((sock) => this.attach(sock));
  }

  listen(): Promise<void> {
    return new Promise((res, rej) => {
      this.server.once("error", rej);
      this.server.listen(this.path, () => res());
    });
  }

  private attach(sock: Socket): void {
    this.clients.add(sock);
    const replay = this.ring.contents();
    if (replay.length) sock.write(replay);
    if (this.paused) sock.pause();
    sock.on("data", (d) => this.input(d));
    sock.on("error", () => sock.destroy());
    sock.on("close", () => this.clients.delete(sock));
  }

  output(data: Buffer): void {
    for (const c of this.clients) {
      // A client that cannot keep up loses the connection, never the VM its speed.
      if (c.writableLength > 1 << 20) c.destroy();
      else c.write(data);
    }
  }

  /** Guest not draining input: stop reading from the clients for now. */
  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    for (const c of this.clients) {
      if (paused) c.pause();
      else c.resume();
    }
  }

  close(): void {
    for (const c of this.clients) c.end();
    this.server.close();
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}
