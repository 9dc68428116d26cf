// Quota arithmetic. Pure: no I/O. The API charges quotas inside a
// transaction that holds the owner's quota lock, and asks this module
// whether the change fits (server/api/quotaTx.ts).

export const QUOTA_RESOURCES = ['vms', 'vcpus', 'memoryMiB', 'diskGiB', 'runningVms'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

export type QuotaAmounts = Record<QuotaResource, number>;
export type QuotaLimits = QuotaAmounts;
export type QuotaUsage = QuotaAmounts;

export const RESOURCE_LABEL: Record<QuotaResource, string> = {
  vms: 'VMs',
  vcpus: 'vCPUs',
  memoryMiB: 'memory (MiB)',
  diskGiB: 'disk (GiB)',
  runningVms: 'running VMs',
};

export interface QuotaViolation {
  resource: QuotaResource;
  requested: number;
  remaining: number;
  limit: number;
}

export type QuotaDecision = { ok: true } | { ok: false; violations: QuotaViolation[] };

export const ZERO_USAGE: QuotaUsage = { vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 };

/** What is left of each limit. Never negative: a lowered quota leaves 0, not debt. */
export function remaining(limits: QuotaLimits, usage: QuotaUsage): QuotaAmounts {
  const out = { ...ZERO_USAGE };
  for (const r of QUOTA_RESOURCES) out[r] = Math.max(0, limits[r] - usage[r]);
  return out;
}

/**
 * May `usage` grow by `delta`? Only growth is checked: shrinking (negative
 * deltas) is always allowed, even when usage is above a lowered limit.
 */
export function checkQuota(limits: QuotaLimits, usage: QuotaUsage, delta: Partial<QuotaAmounts>): QuotaDecision {
  const left = remaining(limits, usage);
  const violations: QuotaViolation[] = [];
  for (const r of QUOTA_RESOURCES) {
    const d = delta[r] ?? 0;
    if (d > 0 && d > left[r]) violations.push({ resource: r, requested: d, remaining: left[r], limit: limits[r] });
  }
  return violations.length ? { ok: false, violations } : { ok: true };
}

export function describeViolation(v: QuotaViolation): string {
  return `${RESOURCE_LABEL[v.resource]}: requested ${v.requested}, remaining ${v.remaining} of ${v.limit}`;
}

export interface VmSize {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  running: boolean;
}

/** Usage is derived from the VMs a user owns (shared VMs never count). */
export function usageOf(vms: readonly VmSize[]): QuotaUsage {
  const u = { ...ZERO_USAGE };
  for (const vm of vms) {
    u.vms += 1;
    u.vcpus += vm.vcpus;
    u.memoryMiB += vm.memoryMiB;
    u.diskGiB += vm.diskGiB;
    if (vm.running) u.runningVms += 1;
  }
  return u;
}

/** Resources whose usage is above a (lowered) limit: shown to the admin. */
export function overLimit(limits: QuotaLimits, usage: QuotaUsage): QuotaResource[] {
  return QUOTA_RESOURCES.filter((r) => usage[r] > limits[r]);
}

export function deltaForCreate(size: Omit<VmSize, 'running'>): Partial<QuotaAmounts> {
  return { vms: 1, vcpus: size.vcpus, memoryMiB: size.memoryMiB, diskGiB: size.diskGiB };
}

export function deltaForResize(from: Omit<VmSize, 'running'>, to: Omit<VmSize, 'running'>): Partial<QuotaAmounts> {
  return { vcpus: to.vcpus - from.vcpus, memoryMiB: to.memoryMiB - from.memoryMiB, diskGiB: to.diskGiB - from.diskGiB };
}
