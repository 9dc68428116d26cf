'use client';
// While a graceful stop or reboot waits for the guest (the ACPI power button
// was pressed), the host forces it at a deadline: show the time left.
// "Force stop" / "Reset" sit with the other actions.
import { useEffect, useState } from 'react';

export function GraceCountdown({ kind, deadline, since }: {
  kind: 'stop' | 'reboot';
  deadline: Date | string | null;
  since: Date | null; // when the wait began, if known (else: when this was first shown)
}) {
  const [now, setNow] = useState(() => Date.now());
  const [shownAt] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, []);
  const end = deadline ? new Date(deadline).getTime() : null;
  const start = Math.min(since?.getTime() ?? shownAt, shownAt);
  const left = end !== null ? Math.max(0, Math.ceil((end - now) / 1000)) : null;
  const total = end !== null ? Math.max(1, Math.round((end - start) / 1000)) : 1;
  const pct = left === null ? 0 : Math.min(100, Math.round(((total - left) / total) * 100));
  const what = kind === 'stop' ? 'forced off' : 'reset';
  return (
    <div className="alert alert-warn stop-countdown" data-testid={`${kind}-countdown`}>
      <div role="status">
        <strong>{kind === 'stop' ? 'Shutting down' : 'Rebooting'}</strong>
        <div>
          The guest was asked to {kind === 'stop' ? 'power off' : 'restart'}.{' '}
          {left === null ? `If it does not, it is ${what} after a timeout.`
            : left > 0 ? <>It is {what} in <strong>{left} s</strong> if it does not.</>
            : `Time is up: it is being ${what}…`}
        </div>
      </div>
      {left !== null ? (
        <div className="meter meter-warn" role="meter" aria-label={kind === 'stop' ? 'Time until forced stop' : 'Time until reset'}
          aria-valuemin={0} aria-valuemax={total} aria-valuenow={Math.max(0, total - left)} aria-valuetext={`${left} seconds left`}>
          <span style={{ width: `${pct}%` }} />
        </div>
      ) : null}
    </div>
  );
}

/** "· 23 s" next to a `stopping` badge in tables: the time until the stop is forced. */
export function SecondsLeft({ deadline }: { deadline: Date | string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const left = Math.max(0, Math.ceil((new Date(deadline).getTime() - now) / 1000));
  return <span className="muted small nowrap" title="Forced off if the guest has not powered off by then"> · forced in {left} s</span>;
}
