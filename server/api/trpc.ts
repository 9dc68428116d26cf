// tRPC plumbing: context, error shape, and the three procedure kinds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError } from 'zod';
import type { Services } from '../services';
import type { Principal } from '../auth/sessions';
import { principalFromApiToken, principalFromSession } from '../auth/sessions';
import { readCookie, SESSION_COOKIE } from '../auth/cookies';
import { sha256 } from '../auth/secrets';
import { HOST_TOKEN_PREFIX } from '../auth/sessions';
import { fieldErrors } from '../domain/validation';
import type { QuotaViolation } from '../domain/quota';

export interface Context {
  services: Services;
  principal: Principal | null;
  ip: string;
  userAgent: string;
  /** The raw `Authorization: Bearer` value, for host agents (their tokens are not users'). */
  bearer: string | null;
  /** Adds a Set-Cookie header to the response (sessions are cookies). */
  setCookie: (cookie: string) => void;
}

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = req.headers['x-forwarded-for'];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? '';
}

function bearerOf(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : null;
}

export async function authenticate(services: Services, req: IncomingMessage): Promise<Principal | null> {
  const bearer = bearerOf(req);
  if (bearer) return principalFromApiToken(services.db, bearer);
  const token = readCookie(req.headers.cookie, SESSION_COOKIE);
  return token ? principalFromSession(services.db, token) : null;
}

export async function createContext(services: Services, req: IncomingMessage, res: ServerResponse): Promise<Context> {
  const cookies: string[] = [];
  return {
    services,
    principal: await authenticate(services, req),
    ip: clientIp(req, services.config.TRUST_PROXY),
    userAgent: String(req.headers['user-agent'] ?? ''),
    bearer: bearerOf(req),
    setCookie: (c) => {
      cookies.push(c);
      res.setHeader('Set-Cookie', cookies);
    },
  };
}

/** Refusal because a quota would be exceeded: carries the numbers. */
export class QuotaExceededError extends TRPCError {
  constructor(readonly violations: QuotaViolation[], message: string) {
    super({ code: 'FORBIDDEN', message });
  }
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    const quota = error instanceof QuotaExceededError ? error.violations : null;
    let message = shape.message;
    if (zod) {
      const fe = fieldErrors(zod);
      message = Object.entries(fe).map(([k, v]) => `${k}: ${v}`).join(' ');
    }
    // Never leak internals: unexpected errors become a generic message.
    if (error.code === 'INTERNAL_SERVER_ERROR') message = 'Internal error. The event was logged.';
    return {
      ...shape,
      message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        fieldErrors: zod ? fieldErrors(zod) : undefined,
        appCode: quota ? 'QUOTA_EXCEEDED' : undefined,
        quota: quota ?? undefined,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first.' });
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.principal.user.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'Administrators only.' });
  return next();
});

/** Procedures only a browser session may call (not API tokens): credential management. */
export const sessionProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!ctx.principal.sessionId) throw new TRPCError({ code: 'FORBIDDEN', message: 'Not available with an API token.' });
  return next({ ctx: { ...ctx, sessionId: ctx.principal.sessionId } });
});

/** Calls from a host agent, authenticated by its host token (created by an admin, stored hashed). */
export const hostProcedure = t.procedure.use(async ({ ctx, next }) => {
  const host = ctx.bearer?.startsWith(HOST_TOKEN_PREFIX)
    ? await ctx.services.db.host.findFirst({ where: { tokenHash: sha256(ctx.bearer) } })
    : null;
  if (!host) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Unknown host token.' });
  return next({ ctx: { ...ctx, host } });
});
