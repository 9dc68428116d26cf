// Writes audit events. Every state-changing procedure records one, whether
// it succeeded, was refused or failed.
import type { Db, Tx } from '../db/client';
import type { Context } from './trpc';

export interface AuditEntry {
  action: string; // e.g. "vm.start", "user.create"
  targetType: 'vm' | 'user' | 'share' | 'session' | 'token' | 'settings' | 'image' | 'host';
  targetId?: string;
  targetName?: string;
  vmOwnerId?: string | null;
  outcome: 'ok' | 'denied' | 'error';
  detail?: string;
}

export async function audit(ctx: Pick<Context, 'principal' | 'ip'>, db: Db | Tx, e: AuditEntry): Promise<void> {
  await db.auditEvent.create({
    data: {
      actorId: ctx.principal?.user.id ?? null,
      actorEmail: ctx.principal?.user.email ?? '',
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId ?? '',
      targetName: (e.targetName ?? '').slice(0, 200),
      vmOwnerId: e.vmOwnerId ?? null,
      outcome: e.outcome,
      detail: (e.detail ?? '').slice(0, 1000),
      ip: ctx.ip,
    },
  });
}
