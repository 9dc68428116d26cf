// The audit trail: owners see events about their VMs and their own actions;
// admins see everything.
import { authedProcedure, router } from '../trpc';
import { auditFilterInput } from '../../domain/validation';
import type { Prisma } from '../../generated/sqlite/index.js';

export const auditRouter = router({
  list: authedProcedure.input(auditFilterInput.optional()).query(async ({ ctx, input = {} }) => {
    const me = ctx.principal.user;
    const limit = input.limit ?? 50;
    const scope: Prisma.AuditEventWhereInput = me.role === 'admin' ? {} : { OR: [{ vmOwnerId: me.id }, { actorId: me.id }] };
    const where: Prisma.AuditEventWhereInput = {
      AND: [
        scope,
        input.vmId ? { targetType: 'vm', targetId: input.vmId } : {},
        input.actorId ? { actorId: input.actorId } : {},
        input.action ? { action: { startsWith: input.action } } : {},
        input.outcome ? { outcome: input.outcome } : {},
      ],
    };
    const rows = await ctx.services.db.auditEvent.findMany({
      where,
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
    });
    const more = rows.length > limit;
    const events = rows.slice(0, limit);
    return { events, nextCursor: more ? events[events.length - 1]!.id : null };
  }),
});
