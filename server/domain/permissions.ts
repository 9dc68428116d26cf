// Who may do what to a VM: the one function every procedure and the console
// bridge call. Pure: the caller loads the VM and the share row.

export const SHARE_ROLES = ['viewer', 'console', 'operator'] as const;
export type ShareRole = (typeof SHARE_ROLES)[number];

export const USER_ROLES = ['admin', 'user'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const VM_ACTIONS = ['view', 'console', 'operate', 'edit', 'share', 'delete', 'audit'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

export interface Actor {
  id: string;
  role: UserRole;
}

export interface VmRef {
  ownerId: string;
}

const GRANTS: Record<ShareRole, readonly VmAction[]> = {
  viewer: ['view'],
  console: ['view', 'console'],
  operator: ['view', 'console', 'operate'],
};

/** Everything `actor` may do to `vm`, given the share row for (vm, actor) if any. */
export function vmRights(actor: Actor, vm: VmRef, shareRole: ShareRole | null): ReadonlySet<VmAction> {
  if (actor.role === 'admin' || actor.id === vm.ownerId) return new Set(VM_ACTIONS);
  if (shareRole && shareRole in GRANTS) return new Set(GRANTS[shareRole]);
  return new Set();
}

export function canOnVm(actor: Actor, vm: VmRef, shareRole: ShareRole | null, action: VmAction): boolean {
  return vmRights(actor, vm, shareRole).has(action);
}

/**
 * How a refusal must look to the caller: a user who may not even see the VM
 * is told it does not exist; one who can see it learns the action is forbidden.
 */
export function refusal(actor: Actor, vm: VmRef, shareRole: ShareRole | null): 'NOT_FOUND' | 'FORBIDDEN' {
  return canOnVm(actor, vm, shareRole, 'view') ? 'FORBIDDEN' : 'NOT_FOUND';
}

export function isShareRole(x: string): x is ShareRole {
  return (SHARE_ROLES as readonly string[]).includes(x);
}
