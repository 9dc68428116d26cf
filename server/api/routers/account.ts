// The signed-in user's own account: password, sessions, API tokens, quota.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { authedProcedure, router, sessionProcedure } from '../trpc';
import { changePasswordInput, id, tokenNameInput } from '../../domain/validation';
import { hashPassword, verifyPassword } from '../../auth/password';
import { newApiToken } from '../../auth/sessions';
import { remaining, overLimit } from '../../domain/quota';
import { limitsOf, usageFor } from '../quotaTx';
import { audit } from '../audit';

export const accountRouter = router({
  quota: authedProcedure.query(async ({ ctx }) => {
    const db = ctx.services.db;
    const userId = ctx.principal.user.id;
    const [quota, usage] = await Promise.all([db.quota.findUnique({ where: { userId } }), usageFor(db, userId)]);
    const limits = quota ? limitsOf(quota) : { vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 };
    return { limits, usage, remaining: remaining(limits, usage), over: overLimit(limits, usage) };
  }),

  changePassword: sessionProcedure.input(changePasswordInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const user = await db.user.findUniqueOrThrow({ where: { id: ctx.principal.user.id } });
    if (!(await verifyPassword(user.passwordHash, input.current))) {
      await audit(ctx, db, { action: 'user.password', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'denied' });
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'current: The current password is wrong.' });
    }
    await db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(input.next) } });
    // A changed password ends every other session.
    await db.session.deleteMany({ where: { userId: user.id, id: { not: ctx.sessionId } } });
    ctx.services.events.sessionsEnded({ userId: user.id });
    await audit(ctx, db, { action: 'user.password', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok' });
    return { ok: true };
  }),

  sessions: sessionProcedure.query(async ({ ctx }) => {
    const rows = await ctx.services.db.session.findMany({ where: { userId: ctx.principal.user.id }, orderBy: { lastSeenAt: 'desc' } });
    // The id is a hash of the cookie, safe to show; a short form is enough to tell them apart.
    return rows.map((s) => ({
      id: s.id, current: s.id === ctx.sessionId, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, expiresAt: s.expiresAt, ip: s.ip, userAgent: s.userAgent,
    }));
  }),

  revokeSession: sessionProcedure.input(z.strictObject({ id: z.string().regex(/^[0-9a-f]{64}$/, 'Not a valid session id.') })).mutation(async ({ ctx, input }) => {
    const { count } = await ctx.services.db.session.deleteMany({ where: { id: input.id, userId: ctx.principal.user.id } });
    if (count === 0) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such session.' });
    ctx.services.events.sessionsEnded({ userId: ctx.principal.user.id });
    await audit(ctx, ctx.services.db, { action: 'session.revoke', targetType: 'session', outcome: 'ok' });
    return { ok: true };
  }),

  tokens: sessionProcedure.query(async ({ ctx }) => {
    const rows = await ctx.services.db.apiToken.findMany({ where: { userId: ctx.principal.user.id, revokedAt: null }, orderBy: { createdAt: 'desc' } });
    return rows.map((t) => ({ id: t.id, name: t.name, prefix: t.prefix, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt }));
  }),

  /** The secret is returned once, here, and stored only as a hash. */
  createToken: sessionProcedure.input(tokenNameInput).mutation(async ({ ctx, input }) => {
    const t = newApiToken();
    const row = await ctx.services.db.apiToken.create({ data: { userId: ctx.principal.user.id, name: input.name, tokenHash: t.hash, prefix: t.prefix } });
    await audit(ctx, ctx.services.db, { action: 'token.create', targetType: 'token', targetId: row.id, targetName: input.name, outcome: 'ok' });
    return { id: row.id, secret: t.secret };
  }),

  revokeToken: sessionProcedure.input(z.strictObject({ id })).mutation(async ({ ctx, input }) => {
    const { count } = await ctx.services.db.apiToken.updateMany({ where: { id: input.id, userId: ctx.principal.user.id, revokedAt: null }, data: { revokedAt: new Date() } });
    if (count === 0) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such token.' });
    await audit(ctx, ctx.services.db, { action: 'token.revoke', targetType: 'token', targetId: input.id, outcome: 'ok' });
    return { ok: true };
  }),
});
