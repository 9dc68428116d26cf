// Pipes a WebSocket to a byte stream (a VM's unix socket, or a remote
// agent's stream) with bounded buffering both ways. Reusable on its own
// (benches, the standalone agent): it knows nothing about tickets or users.
//
//   VM -> browser: each chunk read from the stream is sent as one binary
//   frame. When ws.bufferedAmount (bytes ws has not handed to the kernel
//   yet) passes `highWaterBytes`, the stream is paused: the VM process then
//   stops being read and its own socket buffer fills (the RFB server stops
//   encoding for this client, the serial ring keeps only the latest output).
//   It resumes once the browser has taken the backlog down to `lowWaterBytes`.
//   Paused longer than `stallMs` in one go: the browser is too slow, close.
//
//   browser -> VM: frames are written to the stream; when its write buffer
//   is full the WebSocket is paused (its TCP socket is no longer read) until
//   the stream drains.
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { CONSOLE_CLOSE } from './protocol';

/**
 * Largest WebSocket frame taken from a browser (or a panel, on an agent):
 * RFB client messages are tiny, serial pastes are bounded by the UI.
 */
export const MAX_FRAME_BYTES = 256 * 1024;

export interface PipeLimits {
  /** Pause reading the VM when this many bytes wait for the browser. */
  highWaterBytes: number;
  /** Resume once the wait is down to this. */
  lowWaterBytes: number;
  /** A browser that keeps the VM paused this long in one go is closed with tooSlow. */
  stallMs: number;
  /** After sending a close frame, drop the connection if the peer has not answered in this time. */
  closeGraceMs: number;
  /** Ping the browser this often; one that has not answered the previous ping is dropped (0: never). */
  pingMs: number;
}

/**
 * 256 KiB: several full ZRLE frames of a text screen, or a whole serial
 * replay (256 KiB ring), so an attentive browser never waits on the bound;
 * with one stream chunk (<= 64 KiB) of overshoot, a viewer costs at most
 * ~320 KiB of panel memory however slow it is.
 */
export const DEFAULT_PIPE_LIMITS: PipeLimits = {
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 64 * 1024,
  stallMs: 15_000,
  closeGraceMs: 1000,
  pingMs: 30_000,
};

export interface PipeStats {
  toBrowserBytes: number;
  toVmBytes: number;
  /** Times the VM side was paused because the browser lagged. */
  pauses: number;
  /** Largest ws.bufferedAmount seen right after a send. */
  maxBufferedBytes: number;
  /** Largest write backlog of the stream (bytes the VM has not taken yet). */
  maxVmBacklogBytes: number;
  /** Times the WebSocket was paused because the VM was not reading. */
  browserPauses: number;
}

export interface ConsolePipe {
  /** Ends both sides; the browser gets `code` (a CONSOLE_CLOSE value). Idempotent. */
  close(code: number, reason: string): void;
  readonly stats: PipeStats;
  /** Resolves once both sides are closed, with the close code the panel chose (or the browser's). */
  readonly done: Promise<{ code: number; reason: string; by: 'panel' | 'browser' }>;
  /** Lets bytes flow (a pipe made with `held` moves nothing before this). Idempotent. */
  start(): void;
}

export interface PipeOptions {
  limits?: Partial<PipeLimits>;
  /**
   * The stream ended or failed on its own (VM process gone). Default: close
   * with vmUnreachable. The console bridge looks at the VM's state first.
   */
  onStreamEnd?: (pipe: ConsolePipe) => void;
  /** Move no byte either way until start() (the bridge's last check is still running). */
  held?: boolean;
}

export function pipeWebSocket(ws: WebSocket, stream: Duplex, opts: PipeOptions = {}): ConsolePipe {
  const limits = { ...DEFAULT_PIPE_LIMITS, ...opts.limits };
  const stats: PipeStats = { toBrowserBytes: 0, toVmBytes: 0, pauses: 0, maxBufferedBytes: 0, maxVmBacklogBytes: 0, browserPauses: 0 };
  let closing = false;
  let streamEnded = false;
  let stallTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (r: { code: number; reason: string; by: 'panel' | 'browser' }) => void;
  const done = new Promise<{ code: number; reason: string; by: 'panel' | 'browser' }>((r) => (resolveDone = r));
  let chosen: { code: number; reason: string } | null = null;
  let held = opts.held ?? false;
  /** Browser frames that arrived while held (ws is paused then: at most what was already parsed). */
  const heldFrames: Buffer[] = [];
  if (held) {
    stream.pause(); // before the 'data' listener, so adding it does not start the flow
    ws.pause();
  }

  const pipe: ConsolePipe = {
    stats,
    done,
    close(code, reason) {
      if (closing) return;
      closing = true;
      chosen = { code, reason };
      clearTimeout(stallTimer);
      stream.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        ws.close(code, reason.slice(0, 120)); // close reasons are limited to 123 bytes
        // A stalled browser never reads the close frame: drop it.
        graceTimer = setTimeout(() => ws.terminate(), limits.closeGraceMs);
        graceTimer.unref();
      }
    },
    start() {
      if (!held || closing) return;
      held = false;
      for (const f of heldFrames.splice(0)) toVm(f);
      if (!waitingDrain) ws.resume();
      stream.resume();
    },
  };

  const streamGone = () => {
    if (streamEnded || closing) return;
    streamEnded = true;
    if (opts.onStreamEnd) opts.onStreamEnd(pipe);
    else pipe.close(CONSOLE_CLOSE.vmUnreachable, 'The VM console closed.');
  };

  const maybeResume = () => {
    if (held || !stream.isPaused() || closing || ws.bufferedAmount > limits.lowWaterBytes) return;
    clearTimeout(stallTimer);
    stallTimer = undefined;
    stream.resume();
  };

  // VM -> browser.
  stream.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    stats.toBrowserBytes += chunk.length;
    ws.send(chunk, { binary: true }, () => maybeResume());
    const buffered = ws.bufferedAmount;
    if (buffered > stats.maxBufferedBytes) stats.maxBufferedBytes = buffered;
    if (buffered > limits.highWaterBytes && !stream.isPaused()) {
      stream.pause();
      stats.pauses++;
      stallTimer = setTimeout(() => pipe.close(CONSOLE_CLOSE.tooSlow, 'The browser is not keeping up.'), limits.stallMs);
      stallTimer.unref();
    }
  });
  stream.on('end', streamGone);
  stream.on('close', streamGone);
  stream.on('error', streamGone);

  // Browser -> VM.
  let waitingDrain = false;
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (closing || streamEnded) return;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (held) heldFrames.push(buf);
    else toVm(buf);
  });
  function toVm(buf: Buffer): void {
    if (closing || streamEnded) return;
    stats.toVmBytes += buf.length;
    const ok = stream.write(buf);
    if (stream.writableLength > stats.maxVmBacklogBytes) stats.maxVmBacklogBytes = stream.writableLength;
    if (!ok && !waitingDrain) {
      waitingDrain = true;
      stats.browserPauses++;
      ws.pause();
      stream.once('drain', () => {
        waitingDrain = false;
        if (!held) ws.resume();
      });
    }
  }

  // A browser that vanished without closing (network gone) is noticed even on an idle console.
  let alive = true;
  ws.on('pong', () => (alive = true));
  const pinger = limits.pingMs > 0 ? setInterval(() => {
    if (!alive) return ws.terminate();
    alive = false;
    ws.ping();
  }, limits.pingMs) : undefined;
  pinger?.unref();

  ws.on('close', (code, reason) => {
    clearTimeout(stallTimer);
    clearTimeout(graceTimer);
    clearInterval(pinger);
    closing = true;
    stream.destroy();
    resolveDone(chosen ? { ...chosen, by: 'panel' } : { code, reason: reason.toString(), by: 'browser' });
  });
  ws.on('error', () => ws.terminate());
  return pipe;
}
