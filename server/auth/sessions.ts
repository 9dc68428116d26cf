// Sessions and API tokens: the two ways a request proves who it is.
import type { Db } from '../db/client';
import { newToken, sha256 } from './secrets';

export interface Principal {
  user: { id: string; email: string; name: string; role: 'admin' | 'user' };
  sessionId: string | null; // null when authenticated by API token
  tokenId: string | null;
}

export async function createSession(
  db: Db,
  userId: string,
  ttlHours: number,
  meta: { ip: string; userAgent: string },
): Promise<{ token: string; id: string; expiresAt: Date }> {
  const token = newToken();
  const id = sha256(token);
  const expiresAt = new Date(Date.now() + ttlHours * 3600_000);
  await db.session.create({ data: { id, userId, expiresAt, ip: meta.ip, userAgent: meta.userAgent.slice(0, 300) } });
  return { token, id, expiresAt };
}

export async function principalFromSession(db: Db, token: string): Promise<Principal | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const session = await db.session.findUnique({ where: { id: sha256(token) }, include: { user: true } });
  if (!session || session.expiresAt.getTime() <= Date.now() || session.user.disabled) return null;
  // Touch at most once a minute: a write per request would serialize reads on SQLite.
  if (Date.now() - session.lastSeenAt.getTime() > 60_000) {
    await db.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date() } }).catch(() => {});
  }
  const u = session.user;
  return { user: { id: u.id, email: u.email, name: u.name, role: u.role as 'admin' | 'user' }, sessionId: session.id, tokenId: null };
}

export const API_TOKEN_PREFIX = 'kvp_';
/** Host agents' registration tokens: a prefix of their own, so they never pass for a user's. */
export const HOST_TOKEN_PREFIX = 'kvh_';

export function newApiToken(): { secret: string; hash: string; prefix: string } {
  const secret = API_TOKEN_PREFIX + newToken();
  return { secret, hash: sha256(secret), prefix: secret.slice(0, API_TOKEN_PREFIX.length + 6) };
}

export async function principalFromApiToken(db: Db, secret: string): Promise<Principal | null> {
  if (!secret.startsWith(API_TOKEN_PREFIX) || secret.length > 200) return null;
  const token = await db.apiToken.findUnique({ where: { tokenHash: sha256(secret) }, include: { user: true } });
  if (!token || token.revokedAt || token.user.disabled) return null;
  if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > 60_000) {
    await db.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  const u = token.user;
  return { user: { id: u.id, email: u.email, name: u.name, role: u.role as 'admin' | 'user' }, sessionId: null, tokenId: token.id };
}
