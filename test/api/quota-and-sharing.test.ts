// The quota race and the permission matrix, against real SQLite and a real
// PostgreSQL server, through the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { addImage, client, errorOf, startPanel, withUsers, type TestPanel } from '../support/server';
import { SHARE_ROLES, VM_ACTIONS } from '../../server/domain/permissions';

const KINDS = (['sqlite', 'postgres'] as const).filter((k) => k === 'sqlite' || inject('pgAdminUrl'));

for (const kind of KINDS) {
  describe(`quotas and sharing on ${kind}`, () => {
    let panel: TestPanel;
    let setup: Awaited<ReturnType<typeof withUsers>>;
    let imageId: string;

    beforeAll(async () => {
      panel = await startPanel(kind);
      setup = await withUsers(panel, 3);
      imageId = (await addImage(panel.db)).id;
    });
    afterAll(async () => { await panel.close(); });

    it('20 simultaneous creates never exceed the quota, and each refusal names resource, requested and remaining', async () => {
      const [alice] = setup.users;
      await setup.admin.admin.updateUser.mutate({ id: alice!.id, quota: { vms: 100, vcpus: 10, memoryMiB: 100_000, diskGiB: 1000, runningVms: 5 } });
      // 20 × 1 vCPU against a limit of 10: exactly 10 must win, whatever the interleaving.
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => alice!.c.vm.create.mutate({ name: `race-${i}`, imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected');
      expect(ok).toBe(10);
      for (const r of refused) {
        const e = (r as PromiseRejectedResult).reason;
        expect(e.data.code).toBe('FORBIDDEN');
        expect(e.data.appCode).toBe('QUOTA_EXCEEDED');
        expect(e.data.quota).toEqual([{ resource: 'vcpus', requested: 1, remaining: 0, limit: 10 }]);
        expect(e.message).toBe('Quota exceeded: vCPUs: requested 1, remaining 0 of 10.');
      }
      const q = await alice!.c.account.quota.query();
      expect(q.usage.vcpus).toBe(10);
      expect(await panel.db.vm.count({ where: { ownerId: alice!.id } })).toBe(10);
    });

    it('mixed-size concurrent creates stay within every limit', async () => {
      const [, bob] = setup.users;
      await setup.admin.admin.updateUser.mutate({ id: bob!.id, quota: { vms: 6, vcpus: 12, memoryMiB: 2048, diskGiB: 30, runningVms: 2 } });
      const sizes = Array.from({ length: 24 }, (_, i) => ({ vcpus: 1 + (i % 3), memoryMiB: 128 * (1 + (i % 4)), diskGiB: 2 + (i % 5) }));
      const results = await Promise.allSettled(sizes.map((s, i) => bob!.c.vm.create.mutate({ name: `mix-${i}`, imageId, ...s })));
      for (const r of results) if (r.status === 'rejected') expect(r.reason.data.appCode).toBe('QUOTA_EXCEEDED');
      const vms = await panel.db.vm.findMany({ where: { ownerId: bob!.id } });
      expect(vms.length).toBeGreaterThan(0);
      expect(vms.length).toBeLessThanOrEqual(6);
      expect(vms.reduce((a, v) => a + v.vcpus, 0)).toBeLessThanOrEqual(12);
      expect(vms.reduce((a, v) => a + v.memoryMiB, 0)).toBeLessThanOrEqual(2048);
      expect(vms.reduce((a, v) => a + v.diskGiB, 0)).toBeLessThanOrEqual(30);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(vms.length);
    });

    it('lowering a quota below usage is allowed, warns, deletes nothing and blocks growth', async () => {
      const [alice] = setup.users;
      const before = await panel.db.vm.count({ where: { ownerId: alice!.id } });
      const r = await setup.admin.admin.updateUser.mutate({ id: alice!.id, quota: { vms: 2, vcpus: 2, memoryMiB: 128, diskGiB: 2, runningVms: 0 } });
      expect(r.warning).toMatch(/below current usage for vms, vcpus, memoryMiB, diskGiB/);
      expect(await panel.db.vm.count({ where: { ownerId: alice!.id } })).toBe(before);
      const e = await errorOf(alice!.c.vm.create.mutate({ name: 'one-more', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }));
      expect(e.data.appCode).toBe('QUOTA_EXCEEDED');
      const q = await alice!.c.account.quota.query();
      expect(q.over).toEqual(['vms', 'vcpus', 'memoryMiB', 'diskGiB']);
      expect(q.remaining.vcpus).toBe(0);
      // Shrinking is still allowed: deleting frees quota.
      const some = await panel.db.vm.findFirstOrThrow({ where: { ownerId: alice!.id } });
      await alice!.c.vm.delete.mutate({ id: some.id });
    });

    it('resize charges the difference and refuses shrinking disks', async () => {
      const [, , carol] = setup.users;
      await setup.admin.admin.updateUser.mutate({ id: carol!.id, quota: { vms: 2, vcpus: 4, memoryMiB: 1024, diskGiB: 20, runningVms: 1 } });
      const vm = await carol!.c.vm.create.mutate({ name: 'grow', imageId, vcpus: 2, memoryMiB: 512, diskGiB: 10 });
      await carol!.c.vm.resize.mutate({ id: vm.id, vcpus: 4, memoryMiB: 1024, diskGiB: 20 });
      const over = await errorOf(carol!.c.vm.resize.mutate({ id: vm.id, vcpus: 5, memoryMiB: 1024, diskGiB: 20 }));
      expect(over.data.quota).toEqual([{ resource: 'vcpus', requested: 1, remaining: 0, limit: 4 }]);
      const shrink = await errorOf(carol!.c.vm.resize.mutate({ id: vm.id, vcpus: 1, memoryMiB: 256, diskGiB: 5 }));
      expect(shrink.code).toBe('BAD_REQUEST');
      expect(shrink.message).toMatch(/^diskGiB: Disks can only grow/);
      await carol!.c.vm.resize.mutate({ id: vm.id, vcpus: 1, memoryMiB: 256, diskGiB: 20 });
      expect(await panel.db.vm.findUniqueOrThrow({ where: { id: vm.id } })).toMatchObject({ vcpus: 1, memoryMiB: 256, diskGiB: 20 });
    });

    it('permission matrix: every share role × every VM procedure, enforced by the server', async () => {
      const [owner, recipient, stranger] = setup.users;
      await setup.admin.admin.updateUser.mutate({ id: owner!.id, quota: { vms: 50, vcpus: 50, memoryMiB: 50_000, diskGiB: 500, runningVms: 5 } });
      for (const role of SHARE_ROLES) {
        const vm = await owner!.c.vm.create.mutate({ name: `matrix-${role}`, imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
        await owner!.c.share.add.mutate({ vmId: vm.id, email: recipient!.email, role });
        const r = recipient!.c;
        const listed = await r.vm.list.query();
        expect(listed.shared.map((v) => v.id)).toContain(vm.id);
        expect(listed.mine.map((v) => v.id)).not.toContain(vm.id);
        expect((await r.vm.get.query({ id: vm.id })).rights.sort()).toEqual(
          ({ viewer: ['view'], console: ['console', 'view'], operator: ['console', 'operate', 'view'] } as const)[role].slice().sort(),
        );
        // operate (start/stop/reboot): allowed by the rule for operator; then refused only for lack of a host.
        const start = await errorOf(r.vm.start.mutate({ id: vm.id }));
        if (role === 'operator') {
          expect(start.code).toBe('PRECONDITION_FAILED');
          expect(start.message).toMatch(/No host available/);
        } else expect(start.code).toBe('FORBIDDEN');
        for (const call of [
          () => r.vm.stop.mutate({ id: vm.id }),
          () => r.vm.reboot.mutate({ id: vm.id }),
          () => r.vm.forceStop.mutate({ id: vm.id }),
        ]) {
          const e = await errorOf(call());
          expect(e.code).toBe(role === 'operator' ? 'PRECONDITION_FAILED' : 'FORBIDDEN');
        }
        // owner-only actions: refused for every share role.
        expect((await errorOf(r.vm.delete.mutate({ id: vm.id }))).code).toBe('FORBIDDEN');
        expect((await errorOf(r.vm.rename.mutate({ id: vm.id, name: 'taken-over' }))).code).toBe('FORBIDDEN');
        expect((await errorOf(r.vm.resize.mutate({ id: vm.id, vcpus: 2, memoryMiB: 64, diskGiB: 1 }))).code).toBe('FORBIDDEN');
        expect((await errorOf(r.share.add.mutate({ vmId: vm.id, email: stranger!.email, role: 'viewer' }))).code).toBe('FORBIDDEN');
        expect((await errorOf(r.share.revoke.mutate({ vmId: vm.id, userId: recipient!.id }))).code).toBe('FORBIDDEN');
        // The stranger learns nothing: NOT_FOUND for everything.
        const s = stranger!.c;
        for (const call of [
          () => s.vm.get.query({ id: vm.id }),
          () => s.vm.start.mutate({ id: vm.id }),
          () => s.vm.delete.mutate({ id: vm.id }),
          () => s.share.list.query({ id: vm.id }),
        ]) expect((await errorOf(call())).code).toBe('NOT_FOUND');
        // Shared VMs do not count against the recipient's quota.
        expect((await r.account.quota.query()).usage.vms).toBe(await panel.db.vm.count({ where: { ownerId: recipient!.id } }));
        // Revoking takes effect at once.
        await owner!.c.share.revoke.mutate({ vmId: vm.id, userId: recipient!.id });
        expect((await errorOf(r.vm.get.query({ id: vm.id }))).code).toBe('NOT_FOUND');
        expect((await r.vm.list.query()).shared.map((v) => v.id)).not.toContain(vm.id);
      }
      expect(VM_ACTIONS.length).toBe(7);
    });

    it('admins can act on any VM; the owner is audited', async () => {
      const [owner] = setup.users;
      const vm = await owner!.c.vm.create.mutate({ name: 'admin-target', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      const asAdmin = await setup.admin.vm.get.query({ id: vm.id });
      expect(asAdmin.rights).toContain('delete');
      await setup.admin.vm.delete.mutate({ id: vm.id });
      const events = await owner!.c.audit.list.query({ vmId: vm.id });
      expect(events.events.map((e) => `${e.action}:${e.outcome}`)).toEqual(['vm.delete:ok', 'vm.create:ok']);
      expect(events.events[0]!.actorEmail).toBe('admin@example.org');
    });
  });
}

describe('no host agent registered', () => {
  it('start, stop and reboot fail with a clear "no host available", change nothing, and are audited', async () => {
    const panel = await startPanel('sqlite');
    try {
      const { users } = await withUsers(panel, 1);
      const imageId = (await addImage(panel.db)).id;
      const u = users[0]!;
      const vm = await u.c.vm.create.mutate({ name: 'lonely', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      expect(vm.state).toBe('stopped');
      const e = await errorOf(u.c.vm.start.mutate({ id: vm.id }));
      expect(e.code).toBe('PRECONDITION_FAILED');
      expect(e.message).toBe('No host available: no host agent is registered with this panel.');
      expect((await panel.db.vm.findUniqueOrThrow({ where: { id: vm.id } })).state).toBe('stopped');
      const audit = await u.c.audit.list.query({ vmId: vm.id, outcome: 'error' }); // the host was missing: an error, not a policy refusal
      expect(audit.events[0]).toMatchObject({ action: 'vm.start', outcome: 'error' });
    } finally {
      await panel.close();
    }
  });

  it('names must be unique per owner only', async () => {
    const panel = await startPanel('sqlite');
    try {
      const { users } = await withUsers(panel, 2);
      const imageId = (await addImage(panel.db)).id;
      await users[0]!.c.vm.create.mutate({ name: 'web', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      const dup = await errorOf(users[0]!.c.vm.create.mutate({ name: 'web', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }));
      expect(dup.code).toBe('CONFLICT');
      expect(dup.message).toBe('name: You already have a VM with this name.');
      await users[1]!.c.vm.create.mutate({ name: 'web', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      expect(await client(panel.url).auth.me.query()).toBeNull();
    } finally {
      await panel.close();
    }
  });
});
