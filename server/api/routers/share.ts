// Sharing a VM with another user. Only the owner or an admin manages shares
// ("share" right); revoking takes effect at once because every request
// re-reads the share row.
import { TRPCError } from '@trpc/server';
import { authedProcedure, router } from '../trpc';
import { shareInput, shareRevokeInput, shareUpdateInput, vmIdInput } from '../../domain/validation';
import { loadVm } from '../vmAccess';
import { audit } from '../audit';

export const shareRouter = router({
  list: authedProcedure.input(vmIdInput).query(async ({ ctx, input }) => {
    // Anyone who can see the VM sees who else can (like Proxmox's permissions view);
    // only owners and admins can change it.
    const { vm } = await loadVm(ctx.services.db, ctx.principal, input.id, 'view');
    const shares = await ctx.services.db.vmShare.findMany({
      where: { vmId: vm.id },
      include: { user: { select: { id: true, email: true, name: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return shares.map((s) => ({ userId: s.userId, email: s.user.email, name: s.user.name, role: s.role, createdAt: s.createdAt }));
  }),

  add: authedProcedure.input(shareInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const { vm } = await loadVm(db, ctx.principal, input.vmId, 'share');
    const user = await db.user.findUnique({ where: { email: input.email } });
    const fail = async (message: string) => {
      await audit(ctx, db, { action: 'share.add', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'denied', detail: message });
      return new TRPCError({ code: 'BAD_REQUEST', message });
    };
    if (!user || user.disabled) throw await fail('email: No active user with this email.');
    if (user.id === vm.ownerId) throw await fail('email: The owner already has full access.');
    await db.vmShare.upsert({
      where: { vmId_userId: { vmId: vm.id, userId: user.id } },
      create: { vmId: vm.id, userId: user.id, role: input.role },
      update: { role: input.role },
    });
    await audit(ctx, db, { action: 'share.add', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: `${user.email} as ${input.role}` });
    await ctx.services.events.vmChanged(db, vm.id);
    return { ok: true };
  }),

  update: authedProcedure.input(shareUpdateInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const { vm } = await loadVm(db, ctx.principal, input.vmId, 'share');
    const { count } = await db.vmShare.updateMany({ where: { vmId: vm.id, userId: input.userId }, data: { role: input.role } });
    if (count === 0) throw new TRPCError({ code: 'NOT_FOUND', message: 'This VM is not shared with that user.' });
    await audit(ctx, db, { action: 'share.update', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: `${input.userId} → ${input.role}` });
    await ctx.services.events.vmChanged(db, vm.id);
    return { ok: true };
  }),

  revoke: authedProcedure.input(shareRevokeInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const { vm } = await loadVm(db, ctx.principal, input.vmId, 'share');
    const { count } = await db.vmShare.deleteMany({ where: { vmId: vm.id, userId: input.userId } });
    if (count === 0) throw new TRPCError({ code: 'NOT_FOUND', message: 'This VM is not shared with that user.' });
    await audit(ctx, db, { action: 'share.revoke', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: input.userId });
    await ctx.services.events.vmChanged(db, vm.id, [input.userId]);
    ctx.services.events.accessEnded({ vmId: vm.id, userId: input.userId });
    return { ok: true };
  }),
});
