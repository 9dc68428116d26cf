import { describe, expect, it } from 'vitest';
import { canOnVm, refusal, SHARE_ROLES, VM_ACTIONS, type ShareRole, type VmAction } from '../../server/domain/permissions';

const owner = { id: 'owner', role: 'user' as const };
const admin = { id: 'admin', role: 'admin' as const };
const other = { id: 'other', role: 'user' as const };
const vm = { ownerId: 'owner' };

// The whole matrix, written out: role → the actions it grants.
const EXPECTED: Record<ShareRole | 'owner' | 'admin' | 'none', VmAction[]> = {
  owner: [...VM_ACTIONS],
  admin: [...VM_ACTIONS],
  operator: ['view', 'console', 'operate'],
  console: ['view', 'console'],
  viewer: ['view'],
  none: [],
};

describe('permission matrix', () => {
  for (const action of VM_ACTIONS) {
    it(`owner and admin may ${action}`, () => {
      expect(canOnVm(owner, vm, null, action)).toBe(true);
      expect(canOnVm(admin, vm, null, action)).toBe(true);
    });
    for (const role of SHARE_ROLES) {
      const allowed = EXPECTED[role].includes(action);
      it(`share role ${role} ${allowed ? 'may' : 'may not'} ${action}`, () => {
        expect(canOnVm(other, vm, role, action)).toBe(allowed);
      });
    }
    it(`a stranger may not ${action}`, () => {
      expect(canOnVm(other, vm, null, action)).toBe(false);
    });
  }

  it('strangers are told "not found", sharers "forbidden"', () => {
    expect(refusal(other, vm, null)).toBe('NOT_FOUND');
    for (const role of SHARE_ROLES) expect(refusal(other, vm, role)).toBe('FORBIDDEN');
  });

  it('an unknown role string grants nothing', () => {
    expect(canOnVm(other, vm, 'superuser' as ShareRole, 'view')).toBe(false);
  });
});
