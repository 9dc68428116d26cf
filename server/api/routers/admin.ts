// Administration: users and their quotas, panel settings, every VM.
import { TRPCError } from '@trpc/server';
import { adminProcedure, router } from '../trpc';
import { createUserInput, settingsInput, updateUserInput } from '../../domain/validation';
import { hashPassword } from '../../auth/password';
import { overLimit, type QuotaAmounts } from '../../domain/quota';
import { limitsOf, usageFor, usageOfRows, USAGE_FIELDS } from '../quotaTx';
import { audit } from '../audit';
import { createUserWithQuota } from './auth';
import { getSettings } from './settings';
import { isActive, isVmState } from '../../domain/vmState';
import type { HostCapacity } from '../../agent/types';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

function quotaColumns(q: QuotaAmounts) {
  return { maxVms: q.vms, maxVcpus: q.vcpus, maxMemoryMiB: q.memoryMiB, maxDiskGiB: q.diskGiB, maxRunningVms: q.runningVms };
}

export const adminRouter = router({
  users: adminProcedure.query(async ({ ctx }) => {
    const users = await ctx.services.db.user.findMany({
      include: { quota: true, vms: { select: USAGE_FIELDS } },
      orderBy: { createdAt: 'asc' },
    });
    return users.map((u) => {
      const usage = usageOfRows(u.vms);
      const limits = u.quota ? limitsOf(u.quota) : null;
      return {
        id: u.id, email: u.email, name: u.name, role: u.role, disabled: u.disabled, createdAt: u.createdAt,
        limits, usage, over: limits ? overLimit(limits, usage) : [],
      };
    });
  }),

  createUser: adminProcedure.input(createUserInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    if (await db.user.findUnique({ where: { email: input.email } })) {
      throw new TRPCError({ code: 'CONFLICT', message: 'email: An account with this email already exists.' });
    }
    const user = await createUserWithQuota(db, { email: input.email, name: input.name, role: input.role, passwordHash: await hashPassword(input.password) });
    if (input.quota) await db.quota.update({ where: { userId: user.id }, data: quotaColumns(input.quota) });
    await audit(ctx, db, { action: 'user.create', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok', detail: input.role });
    return { id: user.id };
  }),

  /** Lowering a quota below usage is allowed: nothing is deleted, growth is blocked, the admin is told. */
  updateUser: adminProcedure.input(updateUserInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const user = await db.user.findUnique({ where: { id: input.id } });
    if (!user) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such user.' });
    const demotes = (input.role && input.role !== 'admin') || input.disabled === true;
    if (demotes && user.role === 'admin') {
      const admins = await db.user.count({ where: { role: 'admin', disabled: false } });
      if (admins <= 1) throw new TRPCError({ code: 'BAD_REQUEST', message: 'role: The panel needs at least one active administrator.' });
    }
    await db.$transaction(async (tx) => {
      await tx.user.update({
        where: { id: user.id },
        data: {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.role !== undefined ? { role: input.role } : {}),
          ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
          ...(input.password !== undefined ? { passwordHash: await hashPassword(input.password) } : {}),
        },
      });
      if (input.quota) await tx.quota.upsert({ where: { userId: user.id }, create: { userId: user.id, ...quotaColumns(input.quota) }, update: quotaColumns(input.quota) });
      // Disabling a user or resetting their password ends their sessions at once.
      if (input.disabled || input.password !== undefined) await tx.session.deleteMany({ where: { userId: user.id } });
    });
    if (input.disabled || input.password !== undefined) ctx.services.events.sessionsEnded({ userId: user.id });
    if (input.disabled || (input.role !== undefined && input.role !== user.role)) ctx.services.events.accessEnded({ userId: user.id });
    const changed = Object.keys(input).filter((k) => k !== 'id' && k !== 'password').concat(input.password ? ['password'] : []);
    await audit(ctx, db, { action: 'user.update', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok', detail: changed.join(', ') });
    let warning: string | null = null;
    if (input.quota) {
      const over = overLimit(input.quota, await usageFor(db, user.id));
      if (over.length) warning = `The new quota is below current usage for ${over.join(', ')}. Nothing was removed; the user cannot grow until usage falls below it.`;
    }
    return { ok: true, warning };
  }),

  settings: adminProcedure.query(async ({ ctx }) => {
    const s = await getSettings(ctx.services.db);
    return {
      signupEnabled: s.signupEnabled,
      defaultQuota: { vms: s.defaultMaxVms, vcpus: s.defaultMaxVcpus, memoryMiB: s.defaultMaxMemoryMiB, diskGiB: s.defaultMaxDiskGiB, runningVms: s.defaultMaxRunningVms },
    };
  }),

  updateSettings: adminProcedure.input(settingsInput).mutation(async ({ ctx, input }) => {
    const q = input.defaultQuota;
    const data = {
      signupEnabled: input.signupEnabled,
      defaultMaxVms: q.vms, defaultMaxVcpus: q.vcpus, defaultMaxMemoryMiB: q.memoryMiB, defaultMaxDiskGiB: q.diskGiB, defaultMaxRunningVms: q.runningVms,
    };
    await ctx.services.db.settings.upsert({ where: { id: 1 }, create: { id: 1, ...data }, update: data });
    await audit(ctx, ctx.services.db, { action: 'settings.update', targetType: 'settings', outcome: 'ok', detail: JSON.stringify(input) });
    return { ok: true };
  }),

  vms: adminProcedure.query(async ({ ctx }) => {
    const vms = await ctx.services.db.vm.findMany({
      include: { owner: { select: { id: true, email: true, name: true } }, image: { select: { id: true, name: true } }, host: { select: { name: true } } },
      orderBy: [{ ownerId: 'asc' }, { name: 'asc' }],
    });
    return vms.map((v) => ({
      id: v.id, name: v.name, owner: v.owner, image: v.image, host: v.host?.name ?? null, state: v.state, lastError: v.lastError,
      vcpus: v.vcpus, memoryMiB: v.memoryMiB, diskGiB: v.diskGiB, createdAt: v.createdAt,
    }));
  }),

  /**
   * The host view: per host, its state, its VMs, what they are allocated
   * against what the machine has, and its data dir's disk space (asked live
   * from connected agents, the last registration's numbers otherwise).
   */
  hosts: adminProcedure.query(async ({ ctx }) => {
    const db = ctx.services.db;
    const [hosts, vms] = await Promise.all([
      db.host.findMany({ orderBy: { name: 'asc' } }),
      db.vm.findMany({ where: { hostId: { not: null } }, select: { hostId: true, state: true, vcpus: true, memoryMiB: true, diskGiB: true } }),
    ]);
    const agents = new Map(ctx.services.hosts.list().map((a) => [a.hostId, a]));
    return Promise.all(hosts.map(async (h) => {
      const mine = vms.filter((v) => v.hostId === h.id);
      const running = mine.filter((v) => isVmState(v.state) && isActive(v.state));
      const sum = (rows: typeof mine, k: 'vcpus' | 'memoryMiB' | 'diskGiB') => rows.reduce((n, v) => n + v[k], 0);
      const agent = agents.get(h.id);
      let live: HostCapacity | null = null;
      let capacityError: string | null = null;
      if (agent) {
        try {
          live = await withTimeout(agent.capacity(), 3_000);
        } catch (e) {
          capacityError = e instanceof Error ? e.message : String(e);
        }
      }
      return {
        id: h.id, name: h.name, url: h.url, lastSeenAt: h.lastSeenAt,
        connected: !!agent, capacityError,
        cpus: live?.cpus ?? h.cpus,
        memoryMiB: live?.memoryMiB ?? h.memoryMiB,
        vms: { total: mine.length, running: running.length },
        allocated: { vcpus: sum(mine, 'vcpus'), memoryMiB: sum(mine, 'memoryMiB'), diskGiB: sum(mine, 'diskGiB') },
        runningAllocated: { vcpus: sum(running, 'vcpus'), memoryMiB: sum(running, 'memoryMiB') },
        disk: {
          totalBytes: live?.diskTotalBytes ?? null,
          freeBytes: live?.diskFreeBytes ?? (live ?? h).diskGiB * 2 ** 30,
        },
      };
    }));
  }),
});
