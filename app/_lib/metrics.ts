// Turns successive VM counter samples (vm.metrics) into the series the charts
// draw. Pure: no React, no I/O.
import type { VmMetrics } from '@/server/agent/types';

export const WINDOW_MS = 5 * 60_000;

export interface Point { t: number; v: number }

export interface Series {
  cpuPct: Point[]; // of the VM's vCPUs (100 % = every vCPU busy)
  rss: Point[];
  diskRead: Point[];
  diskWrite: Point[];
  netRx: Point[];
  netTx: Point[];
}

/**
 * Adds a sample to the window: ignores repeats, starts over when the
 * counters went back (the VM process restarted), drops what is older than
 * the window.
 */
export function addSample(samples: VmMetrics[], s: VmMetrics): VmMetrics[] {
  const last = samples[samples.length - 1];
  if (last && s.at <= last.at) return samples;
  const restarted = last && (s.cpuSeconds < last.cpuSeconds || s.uptimeSeconds < last.uptimeSeconds);
  const kept = restarted ? [] : samples.filter((x) => x.at >= s.at - WINDOW_MS);
  return [...kept, s];
}

function rate(a: number, b: number, dt: number): number {
  return dt > 0 ? Math.max(0, (b - a) / dt) : 0;
}

export function seriesOf(samples: VmMetrics[], vcpus: number): Series {
  const out: Series = { cpuPct: [], rss: [], diskRead: [], diskWrite: [], netRx: [], netTx: [] };
  samples.forEach((s, i) => {
    out.rss.push({ t: s.at, v: s.rssBytes });
    const p = samples[i - 1];
    if (!p) return;
    const dt = (s.at - p.at) / 1000;
    out.cpuPct.push({ t: s.at, v: Math.min(100, (rate(p.cpuSeconds, s.cpuSeconds, dt) * 100) / Math.max(1, vcpus)) });
    out.diskRead.push({ t: s.at, v: rate(p.diskReadBytes, s.diskReadBytes, dt) });
    out.diskWrite.push({ t: s.at, v: rate(p.diskWriteBytes, s.diskWriteBytes, dt) });
    out.netRx.push({ t: s.at, v: rate(p.netRxBytes, s.netRxBytes, dt) });
    out.netTx.push({ t: s.at, v: rate(p.netTxBytes, s.netTxBytes, dt) });
  });
  return out;
}

/** A round upper bound for a y axis: 1, 2 or 5 times a power of ten (or of 1024 for bytes). */
export function niceMax(v: number, bytes = false): number {
  if (!(v > 0)) return 1;
  if (bytes) {
    let unit = 1;
    while (v / unit >= 1024) unit *= 1024;
    return niceMax(v / unit) * unit;
  }
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
