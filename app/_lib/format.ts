export function formatMiB(mib: number): string {
  if (mib >= 1024 && mib % 1024 === 0) return `${mib / 1024} GiB`;
  if (mib >= 1024) return `${(mib / 1024).toFixed(1)} GiB`;
  return `${mib} MiB`;
}

export function formatGiB(gib: number): string {
  if (gib >= 1024 && gib % 1024 === 0) return `${gib / 1024} TiB`;
  return `${gib} GiB`;
}

const rtf = typeof Intl !== 'undefined' ? new Intl.RelativeTimeFormat('en', { numeric: 'auto' }) : null;

export function timeAgo(d: Date | string | null | undefined, now = Date.now()): string {
  if (!d) return 'never';
  const t = typeof d === 'string' ? new Date(d) : d;
  const s = Math.round((t.getTime() - now) / 1000);
  const abs = Math.abs(s);
  if (!rtf) return t.toISOString();
  if (abs < 45) return rtf.format(0, 'second') === 'now' ? 'just now' : 'just now';
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), 'day');
  return t.toLocaleDateString();
}

export function formatDateTime(d: Date | string): string {
  const t = typeof d === 'string' ? new Date(d) : d;
  return t.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
