// A small SVG line chart over a fixed time window. The picture is
// decorative for screen readers: the figure's label carries the numbers.
import type { Point } from '../_lib/metrics';

export interface ChartSeries { name: string; points: Point[]; tone: 'a' | 'b' }

const W = 300;
const H = 84;
const PAD = 4;

function path(points: Point[], from: number, span: number, max: number): string {
  return points
    .map((p, i) => {
      const x = ((p.t - from) / span) * W;
      const y = H - PAD - (Math.min(p.v, max) / max) * (H - 2 * PAD);
      return `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join('');
}

function spanText(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

export function LineChart({
  title, value, summary, series, max, maxLabel, limit, now, windowMs,
}: {
  title: string;
  value: string; // latest value(s), shown in the header
  summary: string; // what a screen reader hears
  series: ChartSeries[];
  max: number;
  maxLabel: string; // the top of the y axis, in words ("100 %")
  limit?: { name: string; v: number };
  now: number;
  windowMs: number;
}) {
  const from = now - windowMs;
  const yOf = (v: number) => H - PAD - (Math.min(v, max) / max) * (H - 2 * PAD);
  return (
    <figure className="chart" role="img" aria-label={`${title}: ${summary}`}>
      <figcaption className="chart-head" aria-hidden="true">
        <span className="chart-title">{title}</span>
        <span className="chart-value">{value}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
        {[0.25, 0.5, 0.75].map((f) => <line key={f} className="grid-line" x1={0} x2={W} y1={yOf(max * f)} y2={yOf(max * f)} />)}
        {series[0] && series[0].points.length > 1 && series.length === 1 ? (
          <path className="area-a" d={`${path(series[0].points, from, windowMs, max)}L${(((series[0].points.at(-1)!.t - from) / windowMs) * W).toFixed(1)},${H}L${(((series[0].points[0]!.t - from) / windowMs) * W).toFixed(1)},${H}Z`} />
        ) : null}
        {limit ? <line className="limit-line" x1={0} x2={W} y1={yOf(limit.v)} y2={yOf(limit.v)} /> : null}
        {series.map((s) => (s.points.length > 1 ? <path key={s.name} className={`series-${s.tone}`} d={path(s.points, from, windowMs, max)} /> : null))}
      </svg>
      <div className="chart-axis" aria-hidden="true"><span>{spanText(windowMs)}</span><span>top {maxLabel}</span><span>now</span></div>
      {series.length > 1 || limit ? (
        <div className="chart-legend" aria-hidden="true">
          {series.map((s) => <span key={s.name}><span className={`key key-${s.tone}`} />{s.name}</span>)}
          {limit ? <span><span className="key key-limit" />{limit.name}</span> : null}
        </div>
      ) : null}
    </figure>
  );
}
