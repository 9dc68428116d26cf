// Charging a quota: inside the caller's transaction, take the owner's quota
// lock, derive current usage from the VMs, and ask the domain rule.
import type { Db, Tx } from '../db/client';
import { checkQuota, describeViolation, usageOf, type QuotaAmounts, type QuotaLimits, type QuotaUsage } from '../domain/quota';
import { isActive, isVmState } from '../domain/vmState';
import { QuotaExceededError } from './trpc';

export function limitsOf(q: { maxVms: number; maxVcpus: number; maxMemoryMiB: number; maxDiskGiB: number; maxRunningVms: number }): QuotaLimits {
  return { vms: q.maxVms, vcpus: q.maxVcpus, memoryMiB: q.maxMemoryMiB, diskGiB: q.maxDiskGiB, runningVms: q.maxRunningVms };
}

export const USAGE_FIELDS = { vcpus: true, memoryMiB: true, diskGiB: true, state: true } as const;

/** Usage from stored VM rows (selected with USAGE_FIELDS). */
export function usageOfRows(rows: readonly { vcpus: number; memoryMiB: number; diskGiB: number; state: string }[]): QuotaUsage {
  return usageOf(rows.map((v) => ({ ...v, running: isVmState(v.state) && isActive(v.state) })));
}

export async function usageFor(db: Db | Tx, ownerId: string): Promise<QuotaUsage> {
  return usageOfRows(await db.vm.findMany({ where: { ownerId }, select: USAGE_FIELDS }));
}

/**
 * Takes the owner's quota lock for the rest of the transaction and refuses
 * (throws QUOTA_EXCEEDED) if `delta` does not fit. The lock is a write to the
 * quota row: a row lock on PostgreSQL, the database write lock on SQLite.
 */
export async function chargeQuota(tx: Tx, ownerId: string, delta: Partial<QuotaAmounts>): Promise<void> {
  const locked = await tx.$executeRaw`UPDATE "Quota" SET "version" = "version" + 1 WHERE "userId" = ${ownerId}`;
  if (locked !== 1) throw new QuotaExceededError([], 'This account has no quota set. Ask an administrator.');
  const quota = await tx.quota.findUniqueOrThrow({ where: { userId: ownerId } });
  const decision = checkQuota(limitsOf(quota), await usageFor(tx, ownerId), delta);
  if (!decision.ok) {
    throw new QuotaExceededError(decision.violations, `Quota exceeded: ${decision.violations.map(describeViolation).join('; ')}.`);
  }
}

export const TX_OPTIONS = { maxWait: 10_000, timeout: 20_000 } as const;
