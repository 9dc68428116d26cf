// Console tickets: one-time, short-lived proofs that a signed-in user asked
// for a VM's console from the panel's own page. Only the SHA-256 of a ticket
// is stored (server/auth/secrets), so a database leak does not open consoles.
import type { Db } from '../db/client';
import { newToken, sha256 } from '../auth/secrets';
import { CONSOLE_TICKET_TTL_MS, type ConsoleKind } from './protocol';

export interface TicketBinding {
  userId: string;
  sessionId: string;
  vmId: string;
  kind: ConsoleKind;
}

/** 256 random bits, valid for `ttlMs` (never more than the contract's 30 s). */
export async function mintTicket(db: Db, b: TicketBinding, ttlMs = CONSOLE_TICKET_TTL_MS): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = newToken(32);
  const expiresAt = new Date(Date.now() + Math.min(ttlMs, CONSOLE_TICKET_TTL_MS));
  // Housekeeping: unused tickets are worthless once expired.
  await db.consoleTicket.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  await db.consoleTicket.create({ data: { id: sha256(ticket), userId: b.userId, sessionId: b.sessionId, vmId: b.vmId, kind: b.kind, expiresAt } });
  return { ticket, expiresAt };
}

/**
 * Uses up a ticket if it exists, is unexpired and was minted for exactly
 * this user, session, VM and kind. One conditional delete: of two racing
 * uses only one sees count 1. A ticket presented with the wrong session is
 * left alone (the rightful user can still use it).
 */
export async function consumeTicket(db: Db, ticket: string, b: TicketBinding): Promise<boolean> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(ticket)) return false;
  const { count } = await db.consoleTicket.deleteMany({
    where: { id: sha256(ticket), userId: b.userId, sessionId: b.sessionId, vmId: b.vmId, kind: b.kind, expiresAt: { gt: new Date() } },
  });
  return count === 1;
}
