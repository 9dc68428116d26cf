import { TRPCError } from '@trpc/server';
import { publicProcedure, router, sessionProcedure, type Context } from '../trpc';
import { setupInput, signInInput, signUpInput } from '../../domain/validation';
import { burnPasswordCheck, hashPassword, verifyPassword } from '../../auth/password';
import { createSession } from '../../auth/sessions';
import { clearSessionCookie, sessionCookie } from '../../auth/cookies';
import { audit } from '../audit';
import { getSettings } from './settings';
import type { Db, Tx } from '../../db/client';

async function startSession(ctx: Context, userId: string) {
  const { config, db } = ctx.services;
  // A new token at every sign-in (never reuse one the browser already had):
  // defeats session fixation.
  const s = await createSession(db, userId, config.SESSION_TTL_HOURS, { ip: ctx.ip, userAgent: ctx.userAgent });
  ctx.setCookie(sessionCookie(s.token, config.SESSION_TTL_HOURS * 3600, config.secureCookies));
}

/** A new account with the panel's default quota. */
export async function createUserWithQuota(
  db: Db | Tx,
  data: { email: string; name: string; passwordHash: string; role: 'admin' | 'user' },
) {
  const settings = await getSettings(db);
  return db.user.create({
    data: {
      ...data,
      quota: {
        create: {
          maxVms: settings.defaultMaxVms,
          maxVcpus: settings.defaultMaxVcpus,
          maxMemoryMiB: settings.defaultMaxMemoryMiB,
          maxDiskGiB: settings.defaultMaxDiskGiB,
          maxRunningVms: settings.defaultMaxRunningVms,
        },
      },
    },
  });
}

export const authRouter = router({
  /** What the sign-in page needs to know before anyone is signed in. */
  status: publicProcedure.query(async ({ ctx }) => {
    const db = ctx.services.db;
    const [users, settings] = await Promise.all([db.user.count(), getSettings(db)]);
    return { needsSetup: users === 0, signupEnabled: settings.signupEnabled };
  }),

  me: publicProcedure.query(({ ctx }) => ctx.principal?.user ?? null),

  /** First run: creates the first admin. Refused once any user exists. */
  setup: publicProcedure.input(setupInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const hash = await hashPassword(input.password);
    const user = await db.$transaction(async (tx) => {
      if ((await tx.user.count()) > 0) return null;
      return createUserWithQuota(tx, { email: input.email, name: input.name, passwordHash: hash, role: 'admin' });
    });
    if (!user) throw new TRPCError({ code: 'FORBIDDEN', message: 'Setup is already done. Sign in instead.' });
    await audit({ ...ctx, principal: null }, db, { action: 'setup.admin', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok' });
    await startSession(ctx, user.id);
    return { id: user.id };
  }),

  signIn: publicProcedure.input(signInInput).mutation(async ({ ctx, input }) => {
    const { db, throttle } = ctx.services;
    const email = input.email.trim().toLowerCase();
    const wait = throttle.retryAfter(email, ctx.ip);
    if (wait > 0) {
      await audit(ctx, db, { action: 'auth.signin', targetType: 'user', targetName: email, outcome: 'denied', detail: 'throttled' });
      throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `Too many failed attempts. Try again in ${Math.ceil(wait / 1000)} s.` });
    }
    const user = await db.user.findUnique({ where: { email } });
    const ok = user ? await verifyPassword(user.passwordHash, input.password) : (await burnPasswordCheck(input.password), false);
    if (!user || !ok || user.disabled) {
      throttle.fail(email, ctx.ip);
      await audit(ctx, db, { action: 'auth.signin', targetType: 'user', targetId: user?.id, targetName: email, outcome: 'denied', detail: user?.disabled ? 'disabled' : 'bad credentials' });
      // One message for all three: do not reveal which accounts exist or are disabled.
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Wrong email or password.' });
    }
    throttle.succeed(email);
    await startSession(ctx, user.id);
    // The request had no principal yet: the event's actor is the user who just signed in.
    const actor = { user: { id: user.id, email: user.email, name: user.name, role: user.role as 'admin' | 'user' }, sessionId: null, tokenId: null };
    await audit({ ...ctx, principal: actor }, db, { action: 'auth.signin', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok' });
    return { id: user.id, role: user.role };
  }),

  signUp: publicProcedure.input(signUpInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const settings = await getSettings(db);
    if (!settings.signupEnabled) throw new TRPCError({ code: 'FORBIDDEN', message: 'Sign-up is disabled. Ask an administrator for an account.' });
    if (await db.user.findUnique({ where: { email: input.email } })) {
      throw new TRPCError({ code: 'CONFLICT', message: 'email: An account with this email already exists.' });
    }
    const user = await createUserWithQuota(db, { email: input.email, name: input.name, passwordHash: await hashPassword(input.password), role: 'user' });
    await audit(ctx, db, { action: 'user.signup', targetType: 'user', targetId: user.id, targetName: user.email, outcome: 'ok' });
    await startSession(ctx, user.id);
    return { id: user.id };
  }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    const { db, config } = ctx.services;
    if (ctx.principal?.sessionId) {
      await db.session.deleteMany({ where: { id: ctx.principal.sessionId } });
      ctx.services.events.sessionsEnded({ userId: ctx.principal.user.id });
      await audit(ctx, db, { action: 'auth.signout', targetType: 'session', outcome: 'ok' });
    }
    ctx.setCookie(clearSessionCookie(config.secureCookies));
    return { ok: true };
  }),

  signOutEverywhere: sessionProcedure.mutation(async ({ ctx }) => {
    const { db, config } = ctx.services;
    const { count } = await db.session.deleteMany({ where: { userId: ctx.principal.user.id } });
    ctx.services.events.sessionsEnded({ userId: ctx.principal.user.id });
    await audit(ctx, db, { action: 'auth.signout_all', targetType: 'session', outcome: 'ok', detail: `${count} sessions` });
    ctx.setCookie(clearSessionCookie(config.secureCookies));
    return { ended: count };
  }),
});
