import { QUOTA_RESOURCES, type QuotaAmounts, type QuotaResource } from '@/server/domain/quota';
import { formatMiB } from '../_lib/format';

export const USAGE_LABEL: Record<QuotaResource, string> = {
  vms: 'VMs', vcpus: 'vCPUs', memoryMiB: 'Memory', diskGiB: 'Disk', runningVms: 'Running VMs',
};

export function formatAmount(r: QuotaResource, n: number): string {
  if (r === 'memoryMiB') return formatMiB(n);
  if (r === 'diskGiB') return `${n} GiB`;
  return String(n);
}

/** "1.5 / 8 GiB": both numbers in the limit's unit, so they compare at a glance. */
function pairText(r: QuotaResource, used: number, limit: number) {
  if (r === 'memoryMiB' && limit >= 1024) {
    const g = (n: number) => (Number.isInteger(n / 1024) ? String(n / 1024) : (n / 1024).toFixed(1));
    return <>{g(used)} <span className="muted">/ {g(limit)} GiB</span></>;
  }
  if (r === 'diskGiB') return <>{used} <span className="muted">/ {limit} GiB</span></>;
  return <>{formatAmount(r, used)} <span className="muted">/ {formatAmount(r, limit)}</span></>;
}

export function UsageBar({ resource, used, limit }: { resource: QuotaResource; used: number; limit: number }) {
  const pct = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : used > 0 ? 100 : 0;
  const tone = used > limit ? 'bad' : pct >= 90 ? 'warn' : 'ok';
  const label = USAGE_LABEL[resource];
  return (
    <div className="usage">
      <div className="usage-head">
        <span className="usage-label">{label}</span>
        <span className="usage-num">
          {pairText(resource, used, limit)}
        </span>
      </div>
      <div
        className={`meter meter-${tone}`}
        role="meter"
        aria-label={`${label} used`}
        aria-valuemin={0}
        aria-valuemax={limit}
        aria-valuenow={Math.min(used, limit)}
        aria-valuetext={`${formatAmount(resource, used)} of ${formatAmount(resource, limit)}`}
      >
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

export function UsageBars({ limits, usage }: { limits: QuotaAmounts | null; usage: QuotaAmounts | null }) {
  return (
    <div className="usage-grid">
      {QUOTA_RESOURCES.map((r) =>
        limits && usage ? (
          <UsageBar key={r} resource={r} used={usage[r]} limit={limits[r]} />
        ) : (
          <div key={r} className="usage" aria-hidden="true">
            <div className="usage-head"><span className="usage-label">{USAGE_LABEL[r]}</span><span className="skeleton skeleton-text" /></div>
            <div className="meter"><span style={{ width: 0 }} /></div>
          </div>
        ),
      )}
    </div>
  );
}
