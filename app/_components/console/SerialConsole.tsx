'use client';
// The VM's serial port in xterm.js: fits its pane, sends typed keys as bytes,
// keeps a long scrollback. Each connection starts with the VM's recent output
// (replayed by the panel), so the terminal is reset before it.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { useConsoleSocket } from './useConsoleSocket';
import { ConsoleOverlay, ConsoleStatusView } from './ConsoleStatus';
import { isReleaseKey } from './release';

const SCROLLBACK_LINES = 20_000;

export interface SerialConsoleProps {
  vmId: string;
  vmName: string;
  vmState: string;
  enabled: boolean;
  /** The pane is on screen (fit again when it becomes visible). */
  visible: boolean;
  onStale: () => void;
  onRelease: () => void;
}

export function SerialConsole({ vmId, vmName, vmState, enabled, visible, onStale, onRelease }: SerialConsoleProps) {
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const fit = useRef<FitAddon | null>(null);
  const send = useRef<((bytes: Uint8Array) => void) | null>(null);
  const release = useRef(onRelease);
  useEffect(() => { release.current = onRelease; });
  const [ready, setReady] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The terminal is made once: a rename only relabels it (the open socket writes into it).
  const label = `Serial console of ${vmName}`;
  const labelRef = useRef(label);
  useEffect(() => {
    labelRef.current = label;
    term.current?.textarea?.setAttribute('aria-label', label);
  }, [label, ready]);

  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | undefined;
    void Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]).then(([{ Terminal: Term }, { FitAddon: Fit }]) => {
      if (disposed || !host.current) return;
      const t = new Term({
        scrollback: SCROLLBACK_LINES,
        cursorBlink: true,
        fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
        fontSize: 14,
        theme: { background: '#0b0d12', foreground: '#d7dae0', cursor: '#9ea3ff', selectionBackground: '#3a3f6b' },
        screenReaderMode: false,
      });
      const f = new Fit();
      t.loadAddon(f);
      t.open(host.current);
      t.textarea?.setAttribute('aria-label', labelRef.current);
      t.attachCustomKeyEventHandler((e) => {
        if (!isReleaseKey(e)) return true;
        e.preventDefault();
        t.blur();
        release.current();
        return false;
      });
      const encoder = new TextEncoder();
      t.onData((data) => send.current?.(encoder.encode(data)));
      // onBinary: one char per byte (some mouse reports), not UTF-8.
      t.onBinary((data) => send.current?.(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
      observer = new ResizeObserver(() => { if (host.current?.offsetParent) f.fit(); });
      observer.observe(host.current);
      f.fit();
      term.current = t;
      fit.current = f;
      setReady(true);
    }, (e: unknown) => { if (!disposed) setLoadError(String(e)); });
    return () => {
      disposed = true;
      observer?.disconnect();
      term.current?.dispose();
      term.current = null;
      fit.current = null;
    };
  }, []);

  useEffect(() => {
    if (visible && ready) {
      fit.current?.fit();
    }
  }, [visible, ready]);

  const onSocket = useCallback((ws: WebSocket, onOpen: () => void) => {
    const t = term.current;
    if (!t) return () => ws.close();
    let first = true;
    const onMessage = (ev: MessageEvent) => {
      if (first) { t.reset(); first = false; }
      t.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer));
    };
    const opened = () => onOpen();
    ws.addEventListener('message', onMessage);
    ws.addEventListener('open', opened);
    send.current = (bytes) => { if (ws.readyState === WebSocket.OPEN) ws.send(bytes); };
    return () => {
      ws.removeEventListener('message', onMessage);
      ws.removeEventListener('open', opened);
      send.current = null;
      if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
    };
  }, []);

  const { status, reconnect } = useConsoleSocket({ vmId, kind: 'serial', vmState, enabled: enabled && ready, onSocket, onStale });

  return (
    <div className="console-pane">
      <div className="console-toolbar" role="toolbar" aria-label="Serial controls">
        <div className="btn-row">
          <button type="button" className="btn btn-sm" disabled={!ready} onClick={() => { term.current?.clear(); term.current?.focus(); }}>Clear scrollback</button>
        </div>
        <span className="spacer" />
        <ConsoleStatusView status={status} label="Serial" onReconnect={reconnect} />
      </div>
      {loadError ? <div className="alert alert-error" role="alert">The terminal failed to load: {loadError}</div> : null}
      <div className="console-screen console-terminal">
        <div ref={host} className="console-xterm" data-testid="serial-terminal" />
        <ConsoleOverlay status={status} banner />
      </div>
      <p className="console-hint muted small">Keys typed in the terminal go to the VM’s serial port. <kbd>Ctrl</kbd>+<kbd>]</kbd> gives the keyboard back to the page.</p>
    </div>
  );
}
