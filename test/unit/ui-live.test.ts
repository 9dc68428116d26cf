// The VM page's pure parts: rates from counter samples, axis bounds, the
// byte formats, and what the graceful-stop countdown says.
import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { VmMetrics } from '../../server/agent/types';
import { addSample, niceMax, seriesOf, WINDOW_MS } from '../../app/_lib/metrics';
import { formatBytes, formatDuration, formatRate } from '../../app/_lib/format';
import { GraceCountdown } from '../../app/_components/GraceCountdown';
import { LineChart } from '../../app/_components/LineChart';

function sample(at: number, o: Partial<VmMetrics> = {}): VmMetrics {
  return {
    at, uptimeSeconds: at / 1000, cpuSeconds: 0, processCpuSeconds: 0, rssBytes: 8 << 20, memoryBytes: 64 << 20,
    diskReadBytes: 0, diskWriteBytes: 0, netRxBytes: 0, netTxBytes: 0, ...o,
  };
}

describe('metrics series', () => {
  it('turns counters into per-second rates and CPU % of the VM\'s vCPUs', () => {
    const a = sample(10_000, { cpuSeconds: 1, diskReadBytes: 1000, netTxBytes: 0 });
    const b = sample(12_000, { cpuSeconds: 2, diskReadBytes: 5000, netTxBytes: 2048 });
    const s = seriesOf([a, b], 2);
    expect(s.cpuPct).toEqual([{ t: 12_000, v: 25 }]); // 1 s of CPU in 2 s over 2 vCPUs
    expect(s.diskRead).toEqual([{ t: 12_000, v: 2000 }]);
    expect(s.netTx).toEqual([{ t: 12_000, v: 1024 }]);
    expect(s.rss).toHaveLength(2);
  });

  it('caps CPU at 100 % and never shows negative rates', () => {
    const s = seriesOf([sample(0, { cpuSeconds: 0, netRxBytes: 100 }), sample(1000, { cpuSeconds: 5, netRxBytes: 50 })], 1);
    expect(s.cpuPct[0]!.v).toBe(100);
    expect(s.netRx[0]!.v).toBe(0);
  });

  it('keeps five minutes, ignores repeated samples and starts over when the VM restarted', () => {
    let w: VmMetrics[] = [];
    for (let t = 0; t <= 6 * 60_000; t += 3000) w = addSample(w, sample(t, { cpuSeconds: t / 1e5 }));
    expect(w[0]!.at).toBe(6 * 60_000 - WINDOW_MS);
    expect(addSample(w, w[w.length - 1]!)).toBe(w);
    const restarted = addSample(w, sample(6 * 60_000 + 3000, { cpuSeconds: 0, uptimeSeconds: 1 }));
    expect(restarted).toHaveLength(1);
  });

  it('rounds axis tops to 1, 2 or 5 steps (binary units for bytes)', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(37)).toBe(50);
    expect(niceMax(100)).toBe(100);
    expect(niceMax(64 * 2 ** 20, true)).toBe(100 * 2 ** 20);
    expect(niceMax(1500, true)).toBe(2 * 1024);
  });
});

describe('formats', () => {
  it('bytes, rates, durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(64 * 2 ** 20)).toBe('64 MiB');
    expect(formatBytes(8.14 * 2 ** 20)).toBe('8.14 MiB');
    expect(formatRate(1536)).toBe('1.5 KiB/s');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(3725)).toBe('1 h 2 min');
    expect(formatDuration(90_000)).toBe('1 d 1 h');
  });
});

describe('graceful stop countdown and charts', () => {
  it('says when the VM is forced off, with a meter', () => {
    const now = Date.now();
    const html = renderToStaticMarkup(createElement(GraceCountdown, { kind: 'stop', deadline: new Date(now + 20_500), since: new Date(now - 10_000) }));
    expect(html).toContain('Shutting down');
    expect(html).toMatch(/forced off in <strong>2[01] s<\/strong>/);
    expect(html).toContain('aria-label="Time until forced stop"');
  });

  it('without a known deadline it still explains the fallback', () => {
    const html = renderToStaticMarkup(createElement(GraceCountdown, { kind: 'stop', deadline: null, since: null }));
    expect(html).toContain('forced off after a timeout');
    expect(html).not.toContain('role="meter"');
  });

  it('a reboot counts down to the reset', () => {
    const html = renderToStaticMarkup(createElement(GraceCountdown, { kind: 'reboot', deadline: new Date(Date.now() + 5_000).toISOString(), since: null }));
    expect(html).toContain('Rebooting');
    expect(html).toMatch(/reset in <strong>[45] s<\/strong>/);
  });

  it('a chart is one labelled image with its numbers, the drawing hidden from screen readers', () => {
    const points = [{ t: 1000, v: 10 }, { t: 2000, v: 50 }];
    const html = renderToStaticMarkup(createElement(LineChart, {
      title: 'CPU', value: '50 %', summary: '50 % now', max: 100, maxLabel: '100 %', now: 2000, windowMs: 30_000,
      series: [{ name: 'CPU', points, tone: 'a' }],
    }));
    expect(html).toContain('role="img" aria-label="CPU: 50 % now"');
    expect(html).toContain('<svg viewBox="0 0 300 84" preserveAspectRatio="none" aria-hidden="true"');
    expect(html).toMatch(/class="series-a" d="M290\.0,[\d.]+L300\.0,42\.0"/);
  });
});
