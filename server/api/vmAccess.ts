// Loading a VM on behalf of a user: the one place that turns the permission
// rule into NOT_FOUND / FORBIDDEN.
import { TRPCError } from '@trpc/server';
import type { Db, Tx } from '../db/client';
import type { Principal } from '../auth/sessions';
import { canOnVm, isShareRole, refusal, vmRights, type ShareRole, type VmAction } from '../domain/permissions';

export async function shareRoleOf(db: Db | Tx, vmId: string, userId: string): Promise<ShareRole | null> {
  const share = await db.vmShare.findUnique({ where: { vmId_userId: { vmId, userId } }, select: { role: true } });
  return share && isShareRole(share.role) ? share.role : null;
}

export async function loadVm(db: Db | Tx, principal: Principal, vmId: string, action: VmAction) {
  const vm = await db.vm.findUnique({ where: { id: vmId }, include: { image: { select: { id: true, name: true } } } });
  const notFound = new TRPCError({ code: 'NOT_FOUND', message: 'No such VM.' });
  if (!vm) throw notFound;
  const role = vm.ownerId === principal.user.id ? null : await shareRoleOf(db, vm.id, principal.user.id);
  if (!canOnVm(principal.user, vm, role, action)) {
    if (refusal(principal.user, vm, role) === 'NOT_FOUND') throw notFound;
    throw new TRPCError({ code: 'FORBIDDEN', message: `Your access to this VM does not include "${action}".` });
  }
  return { vm, shareRole: role, rights: [...vmRights(principal.user, vm, role)] };
}
