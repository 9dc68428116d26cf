'use client';
// One console connection (VNC or serial) kept alive while the VM runs: mints a
// ticket, opens the WebSocket, explains every close (server/console/protocol.ts),
// and reconnects with a fresh ticket when that makes sense (backoff, or as soon
// as the VM is running again).
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTRPCClient } from '../../_lib/trpc';
import { CONSOLE_CLOSE, CONSOLE_RECONNECTABLE, type ConsoleKind } from '@/server/console/protocol';

export type ConsoleStatus =
  /** The VM is not running; connects by itself when it is. */
  | { kind: 'waiting'; message: string }
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected' }
  /** Lost; a new attempt is scheduled. */
  | { kind: 'retrying'; message: string; at: number }
  /** Ended; only the Reconnect button (if any) starts again. */
  | { kind: 'closed'; message: string; canRetry: boolean };

/** What the view does with an open socket; returns its cleanup. */
export type SocketHandler = (ws: WebSocket, ready: () => void) => () => void;

// Also worth a reconnect: the panel restarting (1001 going away, 1012 restart).
const RECONNECTABLE = new Set<number>([...CONSOLE_RECONNECTABLE, 1001, 1012]);
const BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000];
/** A connection that lived this long resets the backoff. */
const STABLE_MS = 10_000;
/** Upgrades refused this many times in a row (never opened) stop the retries. */
const MAX_REFUSED = 5;

export function closeMessage(code: number, opened: boolean): string {
  switch (code) {
    case CONSOLE_CLOSE.accessEnded: return 'Your access to this VM ended.';
    case CONSOLE_CLOSE.sessionEnded: return 'Your session ended. Sign in again to reconnect.';
    case CONSOLE_CLOSE.vmStopped: return 'The VM stopped.';
    case CONSOLE_CLOSE.vmUnreachable: return 'The VM’s console is not reachable.';
    case CONSOLE_CLOSE.tooSlow: return 'The connection fell too far behind.';
    case 1000: return 'The panel closed the console.';
    case 1001: case 1012: return 'The panel is restarting.';
    case 1006: return opened ? 'The connection was lost.' : 'The panel refused the console connection.';
    default: return `Disconnected (code ${code}).`;
  }
}

function codeOf(e: unknown): string | undefined {
  return (e as { data?: { code?: string } } | null)?.data?.code;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface ConsoleSocketOptions {
  vmId: string;
  kind: ConsoleKind;
  /** The VM's state as the panel last reported it. */
  vmState: string;
  /** False when the user may not open the console: nothing is attempted. */
  enabled: boolean;
  onSocket: SocketHandler;
  /** Called when a close suggests the VM's state or the user's access changed. */
  onStale?: () => void;
}

export function useConsoleSocket({ vmId, kind, vmState, enabled, onSocket, onStale }: ConsoleSocketOptions) {
  const client = useTRPCClient();
  const [status, setStatus] = useState<ConsoleStatus>({ kind: 'connecting', attempt: 0 });
  // A manual reconnect (or a close that needs one) bumps the generation.
  const [generation, setGeneration] = useState(0);
  const handler = useRef(onSocket);
  const stale = useRef(onStale);
  useEffect(() => { handler.current = onSocket; stale.current = onStale; });
  const running = vmState === 'running';
  // The VM's state only decides whether to start a connection: an open one
  // stays through a graceful stop (the shutdown is worth watching) and ends
  // when the panel closes it (vmStopped once the VM process is gone).
  const vm = useRef({ running, vmState });
  const onVmState = useRef<(() => void) | null>(null);
  useEffect(() => {
    vm.current = { running, vmState };
    onVmState.current?.();
  }, [running, vmState]);

  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ws: WebSocket | null = null;
    let minting = false;
    let detach: (() => void) | undefined;
    let attempt = 0;
    let refused = 0;

    const wait = () => setStatus({ kind: 'waiting', message: `The VM is ${vm.current.vmState}. The console connects when it runs.` });

    onVmState.current = () => {
      if (cancelled || ws || minting) return; // a socket (or its ticket) on the way: the panel decides
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (vm.current.running) {
        attempt = 0;
        void connect();
      } else {
        wait();
      }
    };

    const retry = (message: string) => {
      if (!vm.current.running) return wait();
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
      const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
      attempt += 1;
      setStatus({ kind: 'retrying', message, at: Date.now() + jittered });
      timer = setTimeout(() => { timer = undefined; void connect(); }, jittered);
    };

    const connect = async () => {
      if (cancelled) return;
      if (!vm.current.running) return wait();
      setStatus({ kind: 'connecting', attempt });
      let path: string;
      minting = true;
      try {
        ({ path } = await client.console.ticket.mutate({ vmId, kind }));
      } catch (e) {
        minting = false;
        if (cancelled) return;
        const code = codeOf(e);
        if (code === 'TOO_MANY_REQUESTS') {
          // Too many consoles open, or tickets asked for too fast: say so, and let the user choose when.
          setStatus({ kind: 'closed', message: messageOf(e), canRetry: true });
          return;
        }
        if (code === 'FORBIDDEN' || code === 'NOT_FOUND' || code === 'UNAUTHORIZED' || code === 'BAD_REQUEST') {
          setStatus({ kind: 'closed', message: messageOf(e), canRetry: code === 'FORBIDDEN' || code === 'BAD_REQUEST' });
          stale.current?.();
          return;
        }
        // PRECONDITION_FAILED (not running yet, no host) and transient errors: try again.
        if (code === 'PRECONDITION_FAILED') stale.current?.();
        retry(messageOf(e));
        return;
      }
      minting = false;
      if (cancelled) return;
      const url = new URL(path, window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const socket = new WebSocket(url, kind === 'vnc' ? ['binary'] : []);
      socket.binaryType = 'arraybuffer';
      ws = socket;
      let opened = false;
      let openedAt = 0;
      socket.addEventListener('open', () => { opened = true; openedAt = Date.now(); });
      socket.addEventListener('close', (ev) => {
        detach?.();
        detach = undefined;
        if (cancelled || ws !== socket) return;
        ws = null;
        const message = closeMessage(ev.code, opened);
        if (opened) refused = 0;
        else refused += 1;
        if (opened && Date.now() - openedAt > STABLE_MS) attempt = 0;
        if (ev.code === CONSOLE_CLOSE.sessionEnded) {
          setStatus({ kind: 'closed', message, canRetry: false });
          stale.current?.();
          window.location.assign('/signin');
          return;
        }
        if (ev.code === CONSOLE_CLOSE.accessEnded) {
          setStatus({ kind: 'closed', message, canRetry: false });
          stale.current?.();
          return;
        }
        stale.current?.();
        if (RECONNECTABLE.has(ev.code) && refused < MAX_REFUSED) retry(message);
        else setStatus({ kind: 'closed', message, canRetry: true });
      });
      detach = handler.current(socket, () => {
        if (!cancelled && ws === socket) setStatus({ kind: 'connected' });
      });
    };

    void connect();
    return () => {
      cancelled = true;
      onVmState.current = null;
      if (timer) clearTimeout(timer);
      detach?.();
      if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
      ws = null;
    };
  }, [client, vmId, kind, enabled, generation]);

  const reconnect = useCallback(() => setGeneration((g) => g + 1), []);
  return { status, reconnect };
}
