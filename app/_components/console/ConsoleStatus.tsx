'use client';
import { useEffect, useState } from 'react';
import type { ConsoleStatus } from './useConsoleSocket';

function tone(s: ConsoleStatus): string {
  switch (s.kind) {
    case 'connected': return 'ok';
    case 'connecting': case 'retrying': return 'busy';
    case 'waiting': return 'idle';
    case 'closed': return 'bad';
  }
}

function useSecondsUntil(at: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [at]);
  return at === null ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

export function statusText(s: ConsoleStatus, seconds: number): { title: string; detail?: string } {
  switch (s.kind) {
    case 'connected': return { title: 'Connected' };
    case 'connecting': return { title: s.attempt > 0 ? 'Reconnecting…' : 'Connecting…' };
    case 'waiting': return { title: 'VM not running', detail: s.message };
    case 'retrying': return { title: seconds > 0 ? `Reconnecting in ${seconds} s` : 'Reconnecting…', detail: s.message };
    case 'closed': return { title: 'Disconnected', detail: s.message };
  }
}

/** The connection state of one console, announced politely to screen readers. */
export function ConsoleStatusView({ status, label, onReconnect }: { status: ConsoleStatus; label: string; onReconnect: () => void }) {
  const seconds = useSecondsUntil(status.kind === 'retrying' ? status.at : null);
  const { title, detail } = statusText(status, seconds);
  const canRetry = (status.kind === 'closed' && status.canRetry) || status.kind === 'retrying';
  return (
    <div className="console-status-wrap">
      <span className={`console-status badge badge-${tone(status)}`} role="status" aria-live="polite" data-status={status.kind}>
        <span className="dot" aria-hidden="true" />
        <span className="sr-only">{label} console: </span>
        <span>{title}</span>
        {detail ? <span className="console-status-detail">· {detail}</span> : null}
      </span>
      {canRetry ? (
        <button type="button" className="btn btn-sm" onClick={onReconnect}>{status.kind === 'retrying' ? 'Retry now' : 'Reconnect'}</button>
      ) : null}
    </div>
  );
}

/** Shown over the screen or terminal while it is not connected. */
export function ConsoleOverlay({ status, banner }: { status: ConsoleStatus; banner?: boolean }) {
  const seconds = useSecondsUntil(status.kind === 'retrying' ? status.at : null);
  if (status.kind === 'connected') return null;
  const { title, detail } = statusText(status, seconds);
  return (
    <div className={banner ? 'console-overlay console-overlay-banner' : 'console-overlay'} aria-hidden="true">
      <div className="console-overlay-box">
        {status.kind === 'connecting' || status.kind === 'retrying' ? <span className="console-spinner" /> : null}
        <strong>{title}</strong>
        {detail ? <span>{detail}</span> : null}
      </div>
    </div>
  );
}
