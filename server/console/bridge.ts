// The console bridge: WebSocket upgrades on /console/{vnc,serial}/:vmId,
// admitted only with the panel's own Origin, a fresh one-time ticket bound
// to this user's session cookie, the user's console right (re-checked now)
// and a running VM; then piped to the VM process's socket (pipe.ts). Open
// consoles are closed when the right, the session or the VM goes away.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { TRPCError } from '@trpc/server';
import { WebSocketServer } from 'ws';
import type { Services } from '../services';
import { sameOrigin, type UpgradeRoute } from '../http';
import { readCookie, SESSION_COOKIE } from '../auth/cookies';
import { principalFromSession } from '../auth/sessions';
import { loadVm, shareRoleOf } from '../api/vmAccess';
import { canOnVm, type UserRole } from '../domain/permissions';
import { clientIp } from '../api/trpc';
import { audit } from '../api/audit';
import type { Principal } from '../auth/sessions';
import { LoginThrottle } from '../auth/throttle';
import { CONSOLE_CLOSE, CONSOLE_KINDS, type ConsoleKind } from './protocol';
import { consumeTicket } from './tickets';
import { DEFAULT_PIPE_LIMITS, MAX_FRAME_BYTES, pipeWebSocket, type ConsolePipe, type PipeLimits } from './pipe';
/** After the VM's socket ends, how long to wait for the VM's state to say why (stopped vs. unreachable). */
const STREAM_END_GRACE_MS = 600;

export interface OpenConsole {
  id: number;
  userId: string;
  sessionId: string;
  vmId: string;
  kind: ConsoleKind;
  openedAt: number;
  pipe: ConsolePipe;
}

type Refusal = { status: 401 | 403 | 404 | 409 | 429 | 502; message: string };

/**
 * How many consoles (open, or being admitted) one user, and one VM, may have.
 * Each costs two panel fds, one in the VM process and up to ~320 KiB of
 * buffers; the VM process serves at most 32 VNC clients, so one VM's
 * consoles stay below that and no one can lock its owner out of it.
 */
export interface ConsoleCaps {
  perUser: number;
  perVm: number;
}
export const DEFAULT_CONSOLE_CAPS: ConsoleCaps = { perUser: 8, perVm: 16 };

/** Console tickets one user may mint per minute (each writes a ticket and an audit row). */
export const TICKETS_PER_MINUTE = 60;

/** Why a console may not be added now (null: it may), for the bridge and the ticket mutation alike. */
export function capRefusal(counts: { user: number; vm: number }, caps: ConsoleCaps): string | null {
  if (counts.user >= caps.perUser) return `You have ${counts.user} consoles open, the most allowed: close one first.`;
  if (counts.vm >= caps.perVm) return `This VM has ${counts.vm} consoles open, the most allowed: close one first.`;
  return null;
}

export class ConsoleBridge {
  /** Applies to consoles opened from now on (tests shorten stallMs). */
  limits: PipeLimits = { ...DEFAULT_PIPE_LIMITS };
  /** Applies to admissions from now on (tests raise it for many viewers). */
  caps: ConsoleCaps = { ...DEFAULT_CONSOLE_CAPS };
  /** Admissions past the cap check that are not open consoles yet: they count against the caps too. */
  private readonly pending = new Set<{ userId: string; vmId: string }>();
  /** Ticket minting per user (server/api/routers/console.ts); the "address" key is the user too. */
  readonly mints = new LoginThrottle({ windowMs: 60_000, maxPerAccount: TICKETS_PER_MINUTE, maxPerAddress: TICKETS_PER_MINUTE });
  private readonly open = new Map<number, OpenConsole & { sessionTimer?: NodeJS.Timeout }>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    // noVNC asks for 'binary'; a client that asks for nothing gets nothing.
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  private nextId = 1;
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly services: Services) {
    const ev = services.events;
    this.unsubscribe = [
      ev.onVmChanged((c) => this.recheck((o) => o.vmId === c.vmId)),
      ev.onAccessEnded((e) => this.recheck((o) => o.userId === e.userId && (!e.vmId || o.vmId === e.vmId))),
      ev.onSessionsEnded((e) => this.recheck((o) => o.userId === e.userId)),
    ];
  }

  /** The upgrade route for the panel's HTTP server (server/http.ts). */
  readonly route: UpgradeRoute = (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://panel');
    const m = /^\/console\/([a-z]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) return false;
    socket.on('error', () => socket.destroy()); // a client gone during admission
    this.admit(req, socket, head, m[1]!, m[2]!, url.searchParams.get('ticket')).catch((e) => {
      console.error('console: admission failed:', e);
      refuse(socket, { status: 502, message: 'The console could not be opened.' });
    });
    return true;
  };

  /** The consoles open now (tests, diagnostics). */
  list(): OpenConsole[] {
    return [...this.open.values()];
  }

  /** Open and pending consoles of this user, and of this VM. */
  counts(userId: string, vmId: string): { user: number; vm: number } {
    let user = 0, vm = 0;
    for (const o of [...this.open.values(), ...this.pending]) {
      if (o.userId === userId) user++;
      if (o.vmId === vmId) vm++;
    }
    return { user, vm };
  }

  /** Closes every open console (shutdown) and stops listening to events. */
  shutdown(code: number = CONSOLE_CLOSE.vmUnreachable, reason = 'The panel is shutting down.'): void {
    for (const o of this.open.values()) o.pipe.close(code, reason);
    for (const u of this.unsubscribe) u();
  }

  private async admit(req: http.IncomingMessage, socket: Duplex, head: Buffer, kindRaw: string, vmIdRaw: string, ticket: string | null): Promise<void> {
    const { db, config } = this.services;
    // 1. Origin: required, and the panel's own (a page elsewhere cannot use the cookie).
    if (!req.headers.origin || !sameOrigin(req, config.PUBLIC_URL)) return refuse(socket, { status: 403, message: 'Cross-origin console refused.' });
    const kind = (CONSOLE_KINDS as readonly string[]).includes(kindRaw) ? (kindRaw as ConsoleKind) : null;
    let vmId = '';
    try {
      vmId = decodeURIComponent(vmIdRaw);
    } catch { /* refused below */ }
    if (!kind || !/^[A-Za-z0-9_-]{1,64}$/.test(vmId)) return refuse(socket, { status: 404, message: 'No such console.' });
    if (!ticket) return refuse(socket, { status: 401, message: 'A console ticket is required.' });
    // 2. The session cookie: the ticket is only good together with the session that minted it.
    const token = readCookie(req.headers.cookie, SESSION_COOKIE);
    const principal = token ? await principalFromSession(db, token) : null;
    if (!principal?.sessionId) return refuse(socket, { status: 401, message: 'Sign in first.' });
    // From here on the actor is known: every outcome is audited.
    const ctx = { principal, ip: clientIp(req, config.TRUST_PROXY) };
    const target: { name?: string; ownerId?: string } = {};
    const outcome = (r: Refusal | null) =>
      audit(ctx, db, {
        action: 'vm.console_open', targetType: 'vm', targetId: vmId, targetName: target.name, vmOwnerId: target.ownerId ?? null,
        outcome: !r ? 'ok' : r.status === 502 ? 'error' : 'denied', detail: r ? `${kind}: ${r.status} ${r.message}` : kind,
      }).catch((e) => console.error('console: audit failed:', e));
    const deny = async (r: Refusal): Promise<false> => {
      refuse(socket, r);
      await outcome(r);
      return false;
    };
    const slot = { userId: principal.user.id, vmId };
    try {
      const admitted = await this.admitAs(req, socket, head, principal as Principal & { sessionId: string }, kind, vmId, ticket, target, deny, slot);
      if (admitted) await outcome(null);
    } finally {
      this.pending.delete(slot);
    }
  }

  /** Steps 3-6 of admit(); true once the WebSocket is open. */
  private async admitAs(
    req: http.IncomingMessage, socket: Duplex, head: Buffer, principal: Principal & { sessionId: string }, kind: ConsoleKind, vmId: string, ticket: string,
    target: { name?: string; ownerId?: string }, deny: (r: Refusal) => Promise<false>, slot: { userId: string; vmId: string },
  ): Promise<boolean> {
    const { db, hosts } = this.services;
    // 3. The ticket, used up now whatever follows.
    const binding = { userId: principal.user.id, sessionId: principal.sessionId, vmId, kind };
    if (!(await consumeTicket(db, ticket, binding))) return deny({ status: 401, message: 'The console ticket is invalid, expired or already used.' });
    // 4. The right to this VM's console, as of now.
    let vm;
    try {
      vm = (await loadVm(db, principal, vmId, 'console')).vm;
    } catch (e) {
      if (e instanceof TRPCError && e.code === 'NOT_FOUND') return deny({ status: 404, message: e.message });
      if (e instanceof TRPCError && e.code === 'FORBIDDEN') return deny({ status: 403, message: e.message });
      throw e;
    }
    target.name = vm.name;
    target.ownerId = vm.ownerId;
    // 5. Room for one more console of this user and of this VM (checked and reserved at once).
    const full = capRefusal(this.counts(principal.user.id, vmId), this.caps);
    if (full) return deny({ status: 429, message: full });
    this.pending.add(slot);
    // 6. A running VM, and its console socket.
    if (vm.state !== 'running' || !vm.hostId) return deny({ status: 409, message: 'The VM is not running.' });
    let stream: Duplex;
    try {
      stream = await hosts.forHost(vm.hostId).openConsole(vmId, kind);
    } catch (e) {
      // The detail (socket paths, a host agent's address) is for the log, not the browser.
      console.error(`console: VM ${vmId} ${kind} console unreachable:`, (e as Error).message);
      return deny({ status: 502, message: 'The VM’s console is unreachable.' });
    }
    stream.on('error', () => {}); // until the pipe takes over (a VM dying now must not throw)
    if (socket.destroyed) {
      stream.destroy();
      return false;
    }
    const session = await db.session.findUnique({ where: { id: principal.sessionId }, select: { expiresAt: true } });
    // ws answers a malformed handshake itself (400) without calling back: do not leak the VM's socket then.
    let upgraded = false;
    socket.once('close', () => upgraded || stream.destroy());
    return new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(upgraded));
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        const id = this.nextId++;
        // Held: no byte moves either way until the check below has passed.
        const pipe = pipeWebSocket(ws, stream, { limits: this.limits, held: true, onStreamEnd: () => this.streamEnded(id) });
        const o: OpenConsole & { sessionTimer?: NodeJS.Timeout } = { id, ...binding, openedAt: Date.now(), pipe };
        if (session) {
          // A console does not outlive its session.
          o.sessionTimer = setTimeout(() => pipe.close(CONSOLE_CLOSE.sessionEnded, 'The session expired.'), Math.min(Math.max(session.expiresAt.getTime() - Date.now(), 0), 2 ** 31 - 1));
          o.sessionTimer.unref();
        }
        this.open.set(id, o);
        this.pending.delete(slot);
        void pipe.done.then(() => {
          clearTimeout(o.sessionTimer);
          this.open.delete(id);
        });
        // Anything that changed between the checks above and now (a revocation, a stop) is caught here.
        this.verdict(o).then(
          (v) => (v ? pipe.close(v[0], v[1]) : pipe.start()),
          (e) => {
            console.error('console: re-check failed:', e);
            pipe.close(CONSOLE_CLOSE.vmUnreachable, 'The console could not be checked.');
          },
        );
        resolve(true);
      });
    });
  }

  /**
   * The VM's socket ended: usually the process exited and the VM's state
   * says so within milliseconds (vmChanged closes it with vmStopped); if it
   * still says running after a grace period, the console is unreachable.
   */
  private streamEnded(id: number): void {
    this.recheck((o) => o.id === id, { processGone: true });
    setTimeout(() => {
      const o = this.open.get(id);
      if (!o) return;
      void this.verdict(o, { processGone: true }).then((v) => o.pipe.close(...(v ?? [CONSOLE_CLOSE.vmUnreachable, 'The VM console closed.'] as const)));
    }, STREAM_END_GRACE_MS).unref();
  }

  private recheck(which: (o: OpenConsole) => boolean, opts: { processGone?: boolean } = {}): void {
    for (const o of this.open.values()) {
      if (!which(o)) continue;
      this.verdict(o, opts).then(
        (v) => v && o.pipe.close(v[0], v[1]),
        (e) => console.error('console: re-check failed:', e),
      );
    }
  }

  /**
   * Why this console must close now, or null if it may stay open. A VM
   * that is stopping keeps its open consoles (the shutdown is worth
   * watching) until its process is gone.
   */
  private async verdict(o: OpenConsole, opts: { processGone?: boolean } = {}): Promise<[number, string] | null> {
    const db = this.services.db;
    const vm = await db.vm.findUnique({ where: { id: o.vmId }, select: { state: true, ownerId: true } });
    const alive = vm && (vm.state === 'running' || (vm.state === 'stopping' && !opts.processGone));
    if (!vm || !alive) return [CONSOLE_CLOSE.vmStopped, 'The VM stopped.'];
    const user = await db.user.findUnique({ where: { id: o.userId }, select: { id: true, role: true, disabled: true } });
    if (!user || user.disabled) return [CONSOLE_CLOSE.accessEnded, 'Your access to this VM ended.'];
    const role = vm.ownerId === user.id ? null : await shareRoleOf(db, o.vmId, user.id);
    if (!canOnVm({ id: user.id, role: user.role as UserRole }, vm, role, 'console')) return [CONSOLE_CLOSE.accessEnded, 'Your access to this VM ended.'];
    const session = await db.session.findUnique({ where: { id: o.sessionId }, select: { expiresAt: true } });
    if (!session || session.expiresAt.getTime() <= Date.now()) return [CONSOLE_CLOSE.sessionEnded, 'Your session ended.'];
    return null;
  }
}

function refuse(socket: Duplex, r: Refusal): void {
  if (socket.destroyed) return;
  const body = `${r.message}\n`;
  socket.end(
    `HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

const bridges = new WeakMap<Services, ConsoleBridge>();

/** The one bridge of a panel (its Services): event listeners are registered once. */
export function consoleBridge(services: Services): ConsoleBridge {
  let b = bridges.get(services);
  if (!b) bridges.set(services, (b = new ConsoleBridge(services)));
  return b;
}
