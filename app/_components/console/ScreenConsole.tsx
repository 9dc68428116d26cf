'use client';
// The VM's screen with noVNC: scale to fit or 1:1, fullscreen, key combos,
// paste-as-typing. noVNC is loaded in the browser only (it needs the DOM).
import { useCallback, useEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent } from 'react';
import type RFB from '@novnc/novnc';
import { useConsoleSocket } from './useConsoleSocket';
import { ConsoleOverlay, ConsoleStatusView } from './ConsoleStatus';
import { KeyMenu } from './KeyMenu';
import { comboEvents, typeText, type KeyCombo, type Key } from './keys';
import { isReleaseKey } from './release';

type RfbClass = typeof RFB;

/** Characters typed per tick, and the tick: the VM's keyboard queue is small. */
const TYPE_BATCH = 4;
const TYPE_TICK_MS = 30;

export interface ScreenConsoleProps {
  vmId: string;
  vmName: string;
  vmState: string;
  enabled: boolean;
  onStale: () => void;
  /** Where Ctrl+] sends the keyboard focus. */
  onRelease: () => void;
}

export function ScreenConsole({ vmId, vmName, vmState, enabled, onStale, onRelease }: ScreenConsoleProps) {
  const panel = useRef<HTMLDivElement>(null);
  const target = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [Rfb, setRfb] = useState<RfbClass | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [fit, setFit] = useState(true);
  const fitRef = useRef(fit);
  const [fullscreen, setFullscreen] = useState(false);
  const [lastFrame, setLastFrame] = useState<string | null>(null);
  const [pasteOpen, setPasteOpen] = useState(false);

  useEffect(() => {
    let live = true;
    import('@novnc/novnc').then(
      (m) => { if (live) setRfb(() => m.default); },
      (e: unknown) => { if (live) setLoadError(String(e)); },
    );
    return () => { live = false; };
  }, []);

  // A rename relabels the screen; it never touches the connection.
  const label = `Screen of ${vmName}. Keys typed here go to the VM; Ctrl+] releases the keyboard.`;
  const labelRef = useRef(label);
  useEffect(() => {
    labelRef.current = label;
    target.current?.querySelector('canvas[role="application"]')?.setAttribute('aria-label', label);
  }, [label]);

  const onSocket = useCallback((ws: WebSocket, ready: () => void) => {
    if (!Rfb || !target.current) return () => ws.close();
    const client = new Rfb(target.current, ws, { shared: true });
    client.scaleViewport = fitRef.current;
    client.background = '#000';
    client.focusOnClick = true;
    let up = true;
    client.addEventListener('connect', () => {
      const canvas = target.current?.querySelector('canvas');
      if (canvas) {
        // noVNC's canvas is focusable by script only; keyboard users reach it with Tab.
        canvas.tabIndex = 0;
        canvas.setAttribute('role', 'application');
        canvas.setAttribute('aria-label', labelRef.current);
      }
      setLastFrame(null);
      ready();
    });
    client.addEventListener('disconnect', () => { up = false; });
    rfb.current = client;
    return () => {
      // Keep the last picture, dimmed, while disconnected.
      try { setLastFrame(client.toDataURL('image/png')); } catch { /* nothing drawn yet */ }
      if (up) {
        up = false;
        try { client.disconnect(); } catch { /* already closed */ }
      }
      if (rfb.current === client) rfb.current = null;
    };
  }, [Rfb]);

  const { status, reconnect } = useConsoleSocket({ vmId, kind: 'vnc', vmState, enabled: enabled && Rfb !== null, onSocket, onStale });
  const connected = status.kind === 'connected';

  useEffect(() => {
    fitRef.current = fit;
    if (rfb.current) rfb.current.scaleViewport = fit;
  }, [fit]);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === panel.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, []);

  const toggleFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void panel.current?.requestFullscreen().then(() => rfb.current?.focus({ preventScroll: true }), () => {});
  };

  const sendKeys = useCallback((events: { key: Key; down: boolean }[]) => {
    const c = rfb.current;
    if (!c) return;
    for (const { key, down } of events) c.sendKey(key[0], key[1], down);
  }, []);

  const sendCombo = (combo: KeyCombo) => {
    sendKeys(comboEvents(combo));
    rfb.current?.focus({ preventScroll: true });
  };

  // Ctrl+] hands the keyboard back to the page (Tab would go to the VM).
  const onKeyDownCapture = (e: ReactKeyboardEvent) => {
    if (!isReleaseKey(e.nativeEvent)) return;
    e.preventDefault();
    e.stopPropagation();
    rfb.current?.blur();
    onRelease();
  };

  return (
    <div ref={panel} className="console-pane">
      <div className="console-toolbar" role="toolbar" aria-label="Screen controls">
        <div className="btn-row">
          <div className="console-segmented" role="group" aria-label="Scale">
            <button type="button" className="btn btn-sm" aria-pressed={fit} onClick={() => setFit(true)}>Fit</button>
            <button type="button" className="btn btn-sm" aria-pressed={!fit} onClick={() => setFit(false)}>1:1</button>
          </div>
          <KeyMenu disabled={!connected} onSend={sendCombo} />
          <button type="button" className="btn btn-sm" aria-expanded={pasteOpen} aria-controls="console-paste" onClick={() => setPasteOpen((o) => !o)}>
            Paste as typing
          </button>
          <button type="button" className="btn btn-sm" aria-pressed={fullscreen} onClick={toggleFullscreen}>
            {fullscreen ? 'Exit fullscreen' : 'Fullscreen'}
          </button>
        </div>
        <span className="spacer" />
        <ConsoleStatusView status={status} label="Screen" onReconnect={reconnect} />
      </div>
      {pasteOpen ? (
        <PasteAsTyping disabled={!connected} onType={sendKeys} onDone={() => rfb.current?.focus({ preventScroll: true })} onClose={() => setPasteOpen(false)} />
      ) : null}
      {loadError ? <div className="alert alert-error" role="alert">The VNC viewer failed to load: {loadError}</div> : null}
      <div className={`console-screen ${fit ? 'is-fit' : 'is-native'}`} onKeyDownCapture={onKeyDownCapture}>
        {lastFrame && !connected ? <img className="console-last-frame" src={lastFrame} alt="" /> : null}
        <div ref={target} className="console-target" data-testid="vnc-screen" />
        <ConsoleOverlay status={status} />
      </div>
      <p className="console-hint muted small">Click the screen (or Tab to it) to type into the VM. <kbd>Ctrl</kbd>+<kbd>]</kbd> gives the keyboard back to the page.</p>
    </div>
  );
}

function PasteAsTyping({ disabled, onType, onDone, onClose }: {
  disabled: boolean;
  onType: (events: { key: Key; down: boolean }[]) => void;
  onDone: () => void;
  onClose: () => void;
}) {
  const [text, setText] = useState('');
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const stop = useRef<(() => void) | null>(null);
  const { skipped } = typeText(text);
  useEffect(() => () => stop.current?.(), []);

  const start = () => {
    const chars = [...text.replace(/\r\n?/g, '\n')];
    let i = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = () => {
      const batch = chars.slice(i, i + TYPE_BATCH).join('');
      onType(typeText(batch).events);
      i += TYPE_BATCH;
      setProgress({ done: Math.min(i, chars.length), total: chars.length });
      if (i < chars.length) timer = setTimeout(tick, TYPE_TICK_MS);
      else { stop.current = null; setProgress(null); onDone(); }
    };
    stop.current = () => { if (timer) clearTimeout(timer); stop.current = null; setProgress(null); };
    tick();
  };

  return (
    <div id="console-paste" className="console-paste" role="group" aria-label="Paste as typing">
      <div className="field">
        <label htmlFor="console-paste-text">Text to type into the VM</label>
        <textarea id="console-paste-text" rows={3} value={text} onChange={(e) => setText(e.target.value)}
          aria-describedby="console-paste-hint" spellCheck={false} />
        <span id="console-paste-hint" className="field-hint">
          Typed as key presses on a US keyboard layout; a line break is Enter.
          {skipped.length > 0 ? <span className="warn-text"> {skipped.length} character{skipped.length === 1 ? '' : 's'} without a key will be skipped.</span> : null}
        </span>
      </div>
      <div className="btn-row">
        {progress ? (
          <>
            <span className="muted small" role="status">Typing… {progress.done} of {progress.total}</span>
            <button type="button" className="btn btn-sm" onClick={() => stop.current?.()}>Stop</button>
          </>
        ) : (
          <button type="button" className="btn btn-sm btn-primary" disabled={disabled || text.length === 0} onClick={start}>Type it</button>
        )}
        <button type="button" className="btn btn-sm btn-ghost" onClick={() => { stop.current?.(); onClose(); }}>Close</button>
      </div>
    </div>
  );
}
