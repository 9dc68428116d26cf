// The console bridge end to end: a real panel (SQLite) with the local host
// agent running the test guest, console tickets from tRPC, and WebSocket
// clients that behave like browsers (cookie, Origin, ticket in the path).
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { client, errorOf, startPanel, withUsers, type Client, type TestPanel } from '../support/server';
import { Collector, cookieOf, openConsole } from '../support/consoleClient';
import { ROOT_DIR } from '../../server/config';
import { connectUnix, type LocalAgent } from '../../server/agent/local';
import { consoleBridge, DEFAULT_CONSOLE_CAPS } from '../../server/console/bridge';
import { DEFAULT_PIPE_LIMITS, MAX_FRAME_BYTES, pipeWebSocket, type ConsolePipe, type PipeOptions } from '../../server/console/pipe';
import { CONSOLE_CLOSE, consolePath, type ConsoleKind } from '../../server/console/protocol';
import { sha256 } from '../../server/auth/secrets';
import { consumeTicket, mintTicket } from '../../server/console/tickets';
import { inject } from 'vitest';

let panel: TestPanel & { agent: LocalAgent | null };
let setup: Awaited<ReturnType<typeof withUsers>>;
let imageId: string;
let vmId: string;
type U = Awaited<ReturnType<typeof withUsers>>['users'][number];
let owner: U, consoler: U, viewer: U, stranger: U, spammer: U;

async function stateOf(id: string) {
  return (await panel.db.vm.findUniqueOrThrow({ where: { id } })).state;
}
async function waitState(id: string, want: string, ms = 10_000) {
  const until = Date.now() + ms;
  while ((await stateOf(id)) !== want) {
    if (Date.now() > until) throw new Error(`VM ${id} is ${await stateOf(id)}, expected ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
/** Types on the VM's serial socket directly (not through the bridge). */
function serialSend(id: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(panel.agent!.paths(id).serial);
    c.on('connect', () => c.end(text, () => setTimeout(() => { c.destroy(); resolve(); }, 50)));
    c.on('data', () => {});
    c.on('error', reject);
  });
}
async function startVm(c: Client, name: string): Promise<string> {
  const vm = await c.vm.create.mutate({ name, imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
  await waitState(vm.id, 'stopped');
  await c.vm.start.mutate({ id: vm.id });
  await waitState(vm.id, 'running');
  return vm.id;
}

/** Mints a ticket as `u` and opens the console with u's cookie. */
async function open(u: { c: Client }, kind: ConsoleKind, id = vmId) {
  const t = await u.c.console.ticket.mutate({ vmId: id, kind });
  const r = await openConsole(panel.url, t.path, { cookie: cookieOf(u.c), protocols: kind === 'vnc' ? ['binary'] : [] });
  if (!r.ws) throw new Error(`console refused: ${r.status} ${r.body}`);
  return { ws: r.ws, col: r.col };
}

/** RFB handshake up to ServerInit through the bridge; returns the screen size. */
async function rfbHandshake(ws: WebSocket, col: Collector): Promise<{ width: number; height: number }> {
  await col.bytesAtLeast(12);
  ws.send(Buffer.from('RFB 003.008\n'));
  await col.bytesAtLeast(14);
  ws.send(Buffer.from([1]));
  await col.bytesAtLeast(18);
  ws.send(Buffer.from([1]));
  const init = await col.bytesAtLeast(18 + 24);
  return { width: init.readUInt16BE(18), height: init.readUInt16BE(20) };
}
const RAW_ONLY = Buffer.from([2, 0, 0, 1, 0, 0, 0, 0]); // SetEncodings [Raw]: the heaviest stream
function updateRequest(w: number, h: number, incremental: number): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt8(3, 0); b.writeUInt8(incremental, 1); b.writeUInt16BE(w, 6); b.writeUInt16BE(h, 8);
  return b;
}

beforeAll(async () => {
  panel = await startPanel('sqlite', {}, { agent: true });
  if (!panel.agent) throw new Error('the local agent did not start (is the VMM built and /dev/kvm present?)');
  setup = await withUsers(panel, 5);
  [owner, consoler, viewer, stranger, spammer] = setup.users as [U, U, U, U, U];
  imageId = (await panel.db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf'), builtin: true } })).id;
  vmId = await startVm(owner.c, 'cons');
  await owner.c.share.add.mutate({ vmId, email: consoler.email, role: 'console' });
  await owner.c.share.add.mutate({ vmId, email: viewer.email, role: 'viewer' });
  await owner.c.share.add.mutate({ vmId, email: spammer.email, role: 'console' });
});
afterAll(async () => {
  consoleBridge(panel.services).shutdown();
  await panel?.close();
});

describe('console tickets', () => {
  it('are minted for owner and console role, hashed, short-lived; viewer FORBIDDEN, stranger NOT_FOUND', async () => {
    const t = await consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' });
    expect(t.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(t.path).toBe(consolePath('vnc', vmId, t.ticket));
    expect(t.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(30_000);
    const row = await panel.db.consoleTicket.findUniqueOrThrow({ where: { id: sha256(t.ticket) } });
    expect(row).toMatchObject({ userId: consoler.id, vmId, kind: 'vnc' });
    expect(await panel.db.consoleTicket.count({ where: { id: t.ticket } })).toBe(0);
    await owner.c.console.ticket.mutate({ vmId, kind: 'serial' });
    await setup.admin.console.ticket.mutate({ vmId, kind: 'serial' });

    expect((await errorOf(viewer.c.console.ticket.mutate({ vmId, kind: 'vnc' }))).code).toBe('FORBIDDEN');
    expect((await errorOf(stranger.c.console.ticket.mutate({ vmId, kind: 'vnc' }))).code).toBe('NOT_FOUND');
    expect((await errorOf(stranger.c.console.ticket.mutate({ vmId: 'nope', kind: 'vnc' }))).code).toBe('NOT_FOUND');
    expect((await errorOf(client(panel.url).console.ticket.mutate({ vmId, kind: 'vnc' }))).code).toBe('UNAUTHORIZED');
    // API tokens carry no session, and the bridge needs one.
    const { secret } = await owner.c.account.createToken.mutate({ name: 'console' });
    expect((await errorOf(client(panel.url, { bearer: secret }).console.ticket.mutate({ vmId, kind: 'vnc' }))).code).toBe('FORBIDDEN');

    const events = await panel.db.auditEvent.findMany({ where: { action: 'vm.console', targetId: vmId } });
    expect(events.filter((e) => e.outcome === 'ok').length).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.outcome === 'denied').map((e) => e.actorEmail).sort()).toEqual([stranger.email, viewer.email].sort());
  });
});

describe('console bridge', () => {
  it('VNC: the console user gets the RFB greeting over the binary subprotocol', async () => {
    const { ws, col } = await open(consoler, 'vnc');
    expect(ws.protocol).toBe('binary');
    const got = await col.bytesAtLeast(12);
    expect(got.subarray(0, 12).toString('latin1')).toBe('RFB 003.008\n');
    // A complete handshake through the bridge: version, security None, ClientInit, ServerInit.
    ws.send(Buffer.from('RFB 003.008\n'));
    const sec = await col.bytesAtLeast(12 + 2);
    expect([...sec.subarray(12, 14)]).toEqual([1, 1]);
    ws.send(Buffer.from([1]));
    await col.bytesAtLeast(12 + 2 + 4);
    expect(col.data.readUInt32BE(14)).toBe(0);
    ws.send(Buffer.from([1])); // shared
    const init = await col.bytesAtLeast(18 + 24);
    const width = init.readUInt16BE(18), height = init.readUInt16BE(20);
    expect(width).toBeGreaterThan(0);
    expect(height).toBeGreaterThan(0);
    ws.close();
    expect((await col.closed).code).toBe(1005);
  });

  it('serial: replays the boot log, and `echo hello` answers hello', async () => {
    const { ws, col } = await open(consoler, 'serial');
    await col.until(/guest ready/);
    const from = col.data.length;
    ws.send('echo hello\r');
    const out = await col.until(/echo hello\r?\nhello\r?\n/, 10_000, from);
    expect(out).toMatch(/hello/);
    ws.close();
    await col.closed;
  });

  it('refuses missing, forged, expired, reused and foreign tickets, and bad origins, before anything reaches the VM', async () => {
    const cookie = cookieOf(consoler.c);
    const base = `/console/vnc/${vmId}`;
    const status = async (p: string, o: { cookie?: string; origin?: string | null } = { cookie }) => (await openConsole(panel.url, p, o)).status;

    expect(await status(base)).toBe(401); // no ticket
    expect(await status(`${base}?ticket=${'A'.repeat(43)}`)).toBe(401); // forged

    const expired = await consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' });
    await panel.db.consoleTicket.update({ where: { id: sha256(expired.ticket) }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await status(expired.path)).toBe(401);

    const once = await consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' });
    const first = await openConsole(panel.url, once.path, { cookie });
    expect(first.status).toBe(101);
    first.ws!.close();
    expect(await status(once.path)).toBe(401); // reused

    // Two racing uses of one ticket: exactly one passes.
    const raced = await consoler.c.console.ticket.mutate({ vmId, kind: 'serial' });
    const both = await Promise.all([openConsole(panel.url, raced.path, { cookie }), openConsole(panel.url, raced.path, { cookie })]);
    expect(both.map((b) => b.status).sort()).toEqual([101, 401]);
    for (const b of both) b.ws?.close();

    const ownersTicket = await owner.c.console.ticket.mutate({ vmId, kind: 'vnc' });
    expect(await status(ownersTicket.path)).toBe(401); // someone else's ticket with my cookie
    expect(await status(ownersTicket.path, { cookie: cookieOf(owner.c) })).toBe(101); // still good for its owner

    const mine = await consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' });
    expect(await status(mine.path, {})).toBe(401); // without the cookie
    expect(await status(mine.path, { cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await status(mine.path, { cookie, origin: null })).toBe(403); // Origin is required
    expect(await status(mine.path.replace('/vnc/', '/serial/'))).toBe(401); // minted for the other kind
    expect(await status(mine.path, { cookie })).toBe(101); // the refusals above did not use it up

    // The VNC ticket of another VM does not open this one.
    expect(await status(`/console/vnc/${vmId}x?ticket=${(await consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' })).ticket}`)).toBe(401);
    // Unknown kinds are not consoles.
    expect(await status(`/console/tty/${vmId}?ticket=x`)).toBe(404);

    // The right is re-checked at accept: a ticket minted before the share was revoked is refused.
    const beforeRevoke = await consoler.c.console.ticket.mutate({ vmId, kind: 'serial' });
    await owner.c.share.revoke.mutate({ vmId, userId: consoler.id });
    expect(await status(beforeRevoke.path)).toBe(404);
    await owner.c.share.add.mutate({ vmId, email: consoler.email, role: 'viewer' });
    const downgraded = await consoler.c.console.ticket.mutate({ vmId: vmId, kind: 'serial' }).catch((e) => e);
    expect(downgraded.data?.code).toBe('FORBIDDEN');
    await owner.c.share.update.mutate({ vmId, userId: consoler.id, role: 'console' });

    // A stranger holding a path learns nothing either.
    expect(await status(mine.path, { cookie: cookieOf(stranger.c) })).toBe(401);
    for (const c of consoleBridge(panel.services).list()) c.pipe.close(1000, 'test cleanup');

    // Every admission with a known session left a trace: opened, or refused and why.
    const opens = await panel.db.auditEvent.findMany({ where: { action: 'vm.console_open', actorId: consoler.id } });
    expect(opens.filter((e) => e.outcome === 'ok').length).toBeGreaterThanOrEqual(3);
    const denied = opens.filter((e) => e.outcome === 'denied').map((e) => e.detail);
    expect(denied).toContain('vnc: 401 The console ticket is invalid, expired or already used.');
    expect(denied).toContain('serial: 404 No such VM.');
    expect(opens.filter((e) => e.outcome === 'denied' && e.detail.startsWith('serial: 404'))[0]).toMatchObject({ targetId: vmId, vmOwnerId: null });
  });

  it('the VM’s console socket unreachable: 502 with a generic message (the detail only in the log)', async () => {
    const sock = panel.agent!.paths(vmId).serial;
    renameSync(sock, `${sock}.away`);
    try {
      const t = await owner.c.console.ticket.mutate({ vmId, kind: 'serial' });
      const r = await openConsole(panel.url, t.path, { cookie: cookieOf(owner.c) });
      expect(r.status).toBe(502);
      expect(r.ws ? '' : r.body).toBe('The VM’s console is unreachable.\n');
    } finally {
      renameSync(`${sock}.away`, sock);
    }
    const [last] = await panel.db.auditEvent.findMany({ where: { action: 'vm.console_open', actorId: owner.id }, orderBy: { at: 'desc' }, take: 1 });
    expect(last).toMatchObject({ outcome: 'error', detail: 'serial: 502 The VM’s console is unreachable.' });
  });

  it('caps consoles per user (8) and per VM (16), open or being admitted: 429 at the bridge, TOO_MANY_REQUESTS at minting', async () => {
    const bridge = consoleBridge(panel.services);
    const opened: { ws: WebSocket; col: Collector }[] = [];
    try {
      // Tickets minted while there was room do not let one user past the cap.
      const tickets = [];
      for (let i = 0; i < 9; i++) tickets.push(await owner.c.console.ticket.mutate({ vmId, kind: i % 2 ? 'vnc' : 'serial' }));
      const results = await Promise.all(tickets.map((t, i) => openConsole(panel.url, t.path, { cookie: cookieOf(owner.c), protocols: i % 2 ? ['binary'] : [] })));
      expect(results.map((r) => r.status).sort()).toEqual([...Array(8).fill(101), 429]);
      for (const r of results) if (r.ws) opened.push({ ws: r.ws, col: r.col });
      expect((results.find((r) => r.status === 429) as { body: string }).body).toBe('You have 8 consoles open, the most allowed: close one first.\n');
      const e = await errorOf(owner.c.console.ticket.mutate({ vmId, kind: 'serial' }));
      expect(e.code).toBe('TOO_MANY_REQUESTS');
      expect(e.message).toBe('You have 8 consoles open, the most allowed: close one first.');
      expect(bridge.counts(owner.id, vmId)).toEqual({ user: 8, vm: 8 });

      // Per VM: a console user with 8 more fills it; then no one gets in, not even an admin.
      for (let i = 0; i < 8; i++) opened.push(await open(consoler, 'serial'));
      const full = await errorOf(setup.admin.console.ticket.mutate({ vmId, kind: 'vnc' }));
      expect(full.code).toBe('TOO_MANY_REQUESTS');
      expect(full.message).toBe('This VM has 16 consoles open, the most allowed: close one first.');
      // ... while the VM process still has room: VNC clients of the VM stay below its 32.
      expect(bridge.list().filter((o) => o.vmId === vmId && o.kind === 'vnc').length).toBeLessThan(32);

      // Closing one makes room again.
      opened.shift()!.ws.close();
      await new Promise((r) => setTimeout(r, 100));
      opened.push(await open(owner, 'serial'));

      const denied = await panel.db.auditEvent.findMany({ where: { action: 'vm.console_open', actorId: owner.id, outcome: 'denied' } });
      expect(denied.map((d) => d.detail.replace(/^(vnc|serial): /, ''))).toContain('429 You have 8 consoles open, the most allowed: close one first.');
    } finally {
      for (const o of opened) o.ws.close();
      await Promise.all(opened.map((o) => o.col.closed));
      for (let i = 0; i < 50 && bridge.list().length; i++) await new Promise((r) => setTimeout(r, 20));
    }
    expect(bridge.counts(owner.id, vmId)).toEqual({ user: 0, vm: 0 });
  });

  it('minting is rate-limited per user (60 a minute); expired tickets do not pile up', async () => {
    const stale = await mintTicket(panel.db, { userId: spammer.id, sessionId: 'gone', vmId, kind: 'vnc' });
    await panel.db.consoleTicket.update({ where: { id: sha256(stale.ticket) }, data: { expiresAt: new Date(Date.now() - 1) } });
    const before = await panel.db.auditEvent.count({ where: { action: 'vm.console', actorId: spammer.id } });
    const codes: string[] = [];
    for (let i = 0; i < 100; i++) {
      codes.push(await spammer.c.console.ticket.mutate({ vmId, kind: 'serial' }).then(() => 'OK', (e) => e.data?.code));
    }
    expect(codes.filter((c) => c === 'OK').length).toBe(60);
    expect(codes.slice(60).every((c) => c === 'TOO_MANY_REQUESTS')).toBe(true);
    const e = await errorOf(spammer.c.console.ticket.mutate({ vmId, kind: 'serial' }));
    expect(e.message).toMatch(/^Too many console requests: try again in \d+ s\.$/);
    // The refused ones cost no rows: at most 60 tickets and 60 audit events.
    expect(await panel.db.consoleTicket.count({ where: { userId: spammer.id } })).toBe(60);
    expect((await panel.db.auditEvent.count({ where: { action: 'vm.console', actorId: spammer.id } })) - before).toBe(60);
    // The expired ticket was swept by the next mint.
    expect(await panel.db.consoleTicket.count({ where: { id: sha256(stale.ticket) } })).toBe(0);
    // Other users are not affected.
    expect((await owner.c.console.ticket.mutate({ vmId, kind: 'serial' })).ticket).toBeTruthy();
  });

  it('an open console closes within 1 s with accessEnded when the share is revoked or downgraded', async () => {
    const vnc = await open(consoler, 'vnc');
    const serial = await open(consoler, 'serial');
    const ownerSerial = await open(owner, 'serial');
    const t0 = Date.now();
    await owner.c.share.revoke.mutate({ vmId, userId: consoler.id });
    const [a, b] = await Promise.all([vnc.col.closed, serial.col.closed]);
    expect(a.code).toBe(CONSOLE_CLOSE.accessEnded);
    expect(b.code).toBe(CONSOLE_CLOSE.accessEnded);
    expect(Math.max(a.at, b.at) - t0).toBeLessThan(1000);
    expect(ownerSerial.ws.readyState).toBe(ownerSerial.ws.OPEN); // the owner's console stays

    await owner.c.share.add.mutate({ vmId, email: consoler.email, role: 'console' });
    const again = await open(consoler, 'serial');
    const t1 = Date.now();
    await owner.c.share.update.mutate({ vmId, userId: consoler.id, role: 'viewer' });
    const c = await again.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.accessEnded);
    expect(c.at - t1).toBeLessThan(1000);
    await owner.c.share.update.mutate({ vmId, userId: consoler.id, role: 'console' });
    ownerSerial.ws.close();
  });

  it('closes with sessionEnded on sign-out, sign-out everywhere and a password change elsewhere; accessEnded when the user is disabled', async () => {
    // Sign-out of this session.
    let o = await open(consoler, 'serial');
    let t0 = Date.now();
    await consoler.c.auth.signOut.mutate();
    let c = await o.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.sessionEnded);
    expect(c.at - t0).toBeLessThan(1000);

    // A password change in another browser ends this one's session.
    await consoler.c.auth.signIn.mutate({ email: consoler.email, password: consoler.password });
    o = await open(consoler, 'vnc');
    const other = client(panel.url);
    await other.auth.signIn.mutate({ email: consoler.email, password: consoler.password });
    t0 = Date.now();
    await other.account.changePassword.mutate({ current: consoler.password, next: `${consoler.password}-2` });
    consoler.password = `${consoler.password}-2`;
    c = await o.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.sessionEnded);
    expect(c.at - t0).toBeLessThan(1000);

    // Sign-out everywhere.
    await consoler.c.auth.signIn.mutate({ email: consoler.email, password: consoler.password });
    o = await open(consoler, 'serial');
    t0 = Date.now();
    await other.auth.signOutEverywhere.mutate();
    c = await o.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.sessionEnded);
    expect(c.at - t0).toBeLessThan(1000);

    // Disabled by an admin.
    await consoler.c.auth.signIn.mutate({ email: consoler.email, password: consoler.password });
    o = await open(consoler, 'serial');
    t0 = Date.now();
    await setup.admin.admin.updateUser.mutate({ id: consoler.id, disabled: true });
    c = await o.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.accessEnded);
    expect(c.at - t0).toBeLessThan(1000);
    await setup.admin.admin.updateUser.mutate({ id: consoler.id, disabled: false });
    await consoler.c.auth.signIn.mutate({ email: consoler.email, password: consoler.password });
  });

  it('backpressure: 20 VNC viewers, half of them stalled, while the guest redraws: panel memory stays flat', async () => {
    const bridge = consoleBridge(panel.services);
    const limits = DEFAULT_PIPE_LIMITS;
    const VIEWERS = 20;
    bridge.caps = { perUser: VIEWERS, perVm: VIEWERS }; // one user with 20 viewers, above the default caps
    const viewers: { ws: WebSocket; col: Collector; stalled: boolean; timer?: NodeJS.Timeout }[] = [];
    for (let i = 0; i < VIEWERS; i++) {
      const { ws, col } = await open(owner, 'vnc', vmId);
      viewers.push({ ws, col, stalled: i % 2 === 1 });
    }
    // Every viewer does the RFB handshake, then asks for Raw updates every 20 ms.
    let width = 0, height = 0;
    await Promise.all(viewers.map(async (v) => {
      ({ width, height } = await rfbHandshake(v.ws, v.col));
      v.col.keep = false;
      v.ws.send(RAW_ONLY);
      v.ws.send(updateRequest(width, height, 0));
      if (v.stalled) v.ws.pause(); // reads nothing from now on, but keeps asking
      v.timer = setInterval(() => v.ws.send(updateRequest(width, height, 1)), 20);
    }));

    const sample = () => { const m = process.memoryUsage(); return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss }; };
    await new Promise((r) => setTimeout(r, 500));
    const base = sample();
    const samples: { t: number; heap: number; rss: number }[] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => samples.push({ t: Date.now() - t0, ...sample() }), 100);
    // The guest redraws the whole screen over and over (`draw`, then the text screen again).
    const DURATION = 8000;
    let draws = 0;
    while (Date.now() - t0 < DURATION) {
      await serialSend(vmId, 'draw\r');
      draws++;
      await new Promise((r) => setTimeout(r, 150));
    }
    clearInterval(sampler);

    const stalled = viewers.filter((v) => v.stalled);
    const readers = viewers.filter((v) => !v.stalled);
    const consoles = bridge.list().filter((o) => o.kind === 'vnc' && o.vmId === vmId);
    expect(consoles.length).toBe(VIEWERS);
    const frame = width * height * 4;
    const readBytes = readers.map((v) => v.col.bytes);
    const peakHeap = Math.max(...samples.map((s) => s.heap)) - base.heap;
    const peakRss = Math.max(...samples.map((s) => s.rss)) - base.rss;
    const firstHalf = Math.max(...samples.filter((s) => s.t < DURATION / 2).map((s) => s.heap));
    const secondHalf = Math.max(...samples.filter((s) => s.t >= DURATION / 2).map((s) => s.heap));
    const perPipe = consoles.map((o) => o.pipe.stats.maxBufferedBytes);
    console.log(
      `console backpressure: ${VIEWERS} viewers (${stalled.length} stalled), ${draws} draws of ${width}x${height} (Raw frame ${(frame / 2 ** 20).toFixed(1)} MiB); ` +
        `readers got ${(Math.min(...readBytes) / 2 ** 20).toFixed(1)}..${(Math.max(...readBytes) / 2 ** 20).toFixed(1)} MiB each; ` +
        `max ws.bufferedAmount per console ${(Math.max(...perPipe) / 1024).toFixed(0)} KiB; ` +
        `panel process growth: heap+arrayBuffers peak ${(peakHeap / 2 ** 20).toFixed(1)} MiB, RSS peak ${(peakRss / 2 ** 20).toFixed(1)} MiB; ` +
        `heap peak 1st half ${(firstHalf / 2 ** 20).toFixed(1)} MiB, 2nd half ${(secondHalf / 2 ** 20).toFixed(1)} MiB`,
    );
    // The guest really drew: every reader got many full frames.
    expect(Math.min(...readBytes)).toBeGreaterThan(4 * frame);
    // Each console holds at most the high-water mark plus one socket chunk (64 KiB) for its browser.
    for (const b of perPipe) expect(b).toBeLessThanOrEqual(limits.highWaterBytes + 64 * 1024);
    // The stalled consoles were paused (the VM socket is no longer read for them).
    for (const o of consoles) expect(o.pipe.stats.pauses + o.pipe.stats.toBrowserBytes).toBeGreaterThan(0);
    expect(consoles.filter((o) => o.pipe.stats.pauses > 0).length).toBeGreaterThanOrEqual(stalled.length);
    // What a stalled viewer cost: far less than what readers received (the bridge did not buffer it).
    // Bound: 20 x (256 KiB high water + 64 KiB chunk + 64 KiB paused socket buffer) = 7.5 MiB held by the
    // bridge, plus garbage from the in-process readers between collections: 64 MiB. Without
    // backpressure, 10 stalled viewers of Raw frames grow by 10 x (frames x 3 MiB), gigabytes here.
    expect(peakHeap).toBeLessThan(64 * 2 ** 20);
    expect(peakRss).toBeLessThan(160 * 2 ** 20);
    // Flat: the second half of the run does not climb above the first by more than the bound above.
    expect(secondHalf - firstHalf).toBeLessThan(32 * 2 ** 20);

    for (const v of viewers) { clearInterval(v.timer); v.ws.terminate(); }
    await Promise.all(viewers.map((v) => v.col.closed));
    bridge.caps = { ...DEFAULT_CONSOLE_CAPS };
  });

  it('a browser that stays stalled beyond the limit is closed with tooSlow', async () => {
    const bridge = consoleBridge(panel.services);
    bridge.limits = { ...DEFAULT_PIPE_LIMITS, stallMs: 1000, closeGraceMs: 30_000 };
    try {
      const { ws, col } = await open(owner, 'vnc');
      const { width, height } = await rfbHandshake(ws, col);
      col.keep = false;
      ws.send(RAW_ONLY);
      ws.send(updateRequest(width, height, 0));
      ws.pause();
      const timer = setInterval(() => ws.send(updateRequest(width, height, 1)), 20);
      // Full-screen Raw updates until the loopback buffers are full and the bridge pauses.
      const mine = () => bridge.list().find((o) => o.kind === 'vnc' && o.userId === owner.id);
      const until = Date.now() + 20_000;
      while (mine() && mine()!.pipe.stats.pauses === 0 && Date.now() < until) {
        await serialSend(vmId, 'draw\r');
        await new Promise((r) => setTimeout(r, 100));
      }
      const paused = Date.now();
      expect(mine()?.pipe.stats.pauses ?? 1).toBeGreaterThan(0);
      const c = await new Promise<{ code: number; at: number }>((resolve) => {
        void col.closed.then(resolve);
        setTimeout(() => ws.resume(), 2000); // read again: the close frame waits behind the backlog
      });
      clearInterval(timer);
      expect(c.code).toBe(CONSOLE_CLOSE.tooSlow);
      expect(c.at - paused).toBeGreaterThanOrEqual(1000 - 150);
    } finally {
      bridge.limits = { ...DEFAULT_PIPE_LIMITS };
    }
  });

  it('a graceful stop keeps the console open while the guest shuts down, then closes it with vmStopped', async () => {
    const serial = await open(owner, 'serial');
    await serial.col.until(/guest ready/);
    const from = serial.col.data.length;
    await owner.c.vm.stop.mutate({ id: vmId, timeoutSeconds: 3 });
    const stateNow = await stateOf(vmId);
    if (stateNow === 'stopping') {
      await new Promise((r) => setTimeout(r, 50));
      if ((await stateOf(vmId)) === 'stopping') expect(serial.ws.readyState).toBe(serial.ws.OPEN);
    }
    let endedAt = 0;
    const watch = (async () => {
      while ((await stateOf(vmId)) === 'stopping') await new Promise((r) => setTimeout(r, 10));
      endedAt = Date.now();
    })();
    const c = await serial.col.closed;
    await watch;
    expect(c.code).toBe(CONSOLE_CLOSE.vmStopped);
    expect(Math.abs(c.at - endedAt)).toBeLessThan(1000);
    console.log(`graceful stop: the console saw ${JSON.stringify(serial.col.data.subarray(from).toString('latin1').slice(0, 200))} before closing`);
    await waitState(vmId, 'stopped');
    await owner.c.vm.start.mutate({ id: vmId });
    await waitState(vmId, 'running');
  });

  it('the VM stopping closes its consoles within 1 s with vmStopped; tickets are then refused', async () => {
    const vnc = await open(consoler, 'vnc');
    const serial = await open(owner, 'serial');
    const late = await consoler.c.console.ticket.mutate({ vmId, kind: 'serial' });
    const t0 = Date.now();
    await owner.c.vm.forceStop.mutate({ id: vmId });
    const [a, b] = await Promise.all([vnc.col.closed, serial.col.closed]);
    expect(a.code).toBe(CONSOLE_CLOSE.vmStopped);
    expect(b.code).toBe(CONSOLE_CLOSE.vmStopped);
    expect(Math.max(a.at, b.at) - t0).toBeLessThan(1000);
    await waitState(vmId, 'stopped');
    expect((await openConsole(panel.url, late.path, { cookie: cookieOf(consoler.c) })).status).toBe(409);
    const e = await errorOf(consoler.c.console.ticket.mutate({ vmId, kind: 'vnc' }));
    expect(e.code).toBe('PRECONDITION_FAILED');
    expect(e.message).toBe('The VM is stopped: start it to open its console.');
  });

  it('a crashed VM process closes its consoles within 1 s with vmStopped', async () => {
    await owner.c.vm.start.mutate({ id: vmId });
    await waitState(vmId, 'running');
    const serial = await open(owner, 'serial');
    await serial.col.until(/guest ready/);
    const pid = Number(readFileSync(panel.agent!.paths(vmId).pid, 'utf8'));
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const c = await serial.col.closed;
    expect(c.code).toBe(CONSOLE_CLOSE.vmStopped);
    expect(c.at - t0).toBeLessThan(1000);
    await waitState(vmId, 'crashed');
    for (let i = 0; i < 50 && consoleBridge(panel.services).list().length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(consoleBridge(panel.services).list().length).toBe(0);
  });
});

describe.each(['sqlite', 'postgres'] as const)('ticket consumption on %s', (kind) => {
  it.skipIf(kind === 'postgres' && !inject('pgAdminUrl'))('is atomic: of 10 simultaneous uses exactly one wins', async () => {
    const p = kind === 'sqlite' ? panel : await startPanel('postgres');
    try {
      const b = { userId: 'u1', sessionId: 's1', vmId: 'vm1', kind: 'vnc' as const };
      for (let round = 0; round < 5; round++) {
        const { ticket } = await mintTicket(p.db, b);
        const wins = await Promise.all(Array.from({ length: 10 }, () => consumeTicket(p.db, ticket, b)));
        expect(wins.filter(Boolean).length).toBe(1);
      }
      const { ticket } = await mintTicket(p.db, b);
      expect(await consumeTicket(p.db, ticket, { ...b, sessionId: 's2' })).toBe(false);
      expect(await consumeTicket(p.db, ticket, { ...b, kind: 'serial' })).toBe(false);
      expect(await consumeTicket(p.db, `${ticket}x`, b)).toBe(false);
      expect(await consumeTicket(p.db, ticket, b)).toBe(true);
    } finally {
      if (p !== panel) await p.close();
    }
  });
});

/** A fake VM on a unix socket, a WebSocket server that pipes to it with pipeWebSocket, and a "browser" connected to that. */
async function pipeRig(onVm: (s: net.Socket) => void, opts: PipeOptions = {}) {
  const sockPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-pipe-')), 'vm.sock');
  const vm = net.createServer(onVm);
  await new Promise<void>((r) => vm.listen(sockPath, r));
  const server = http.createServer();
  const wss = new WebSocketServer({ server, maxPayload: MAX_FRAME_BYTES });
  const piped = new Promise<ConsolePipe>((resolve) => wss.on('connection', async (ws) => resolve(pipeWebSocket(ws, await connectUnix(sockPath), opts))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
  await new Promise((r) => browser.once('open', r));
  const pipe = await piped;
  return {
    browser,
    pipe,
    async close() {
      pipe.close(CONSOLE_CLOSE.vmUnreachable, 'done');
      await pipe.done;
      browser.terminate();
      server.close();
      vm.close();
    },
  };
}

describe('pipeWebSocket on its own', () => {
  it('browser -> VM: a VM that does not read pauses the WebSocket; nothing is lost once it reads', async () => {
    // The "VM": accepts, then reads nothing until told to.
    let vmSide!: net.Socket;
    let accepted!: () => void;
    const acceptedP = new Promise<void>((r) => (accepted = r));
    const { browser, pipe, close } = await pipeRig((s) => { vmSide = s; s.pause(); accepted(); });
    await acceptedP;
    const FRAME = 64 * 1024, FRAMES = 512; // 32 MiB typed into a VM that does not read
    const chunk = Buffer.alloc(FRAME, 0x61);
    for (let i = 0; i < FRAMES; i++) browser.send(chunk);
    await new Promise((r) => setTimeout(r, 1500));
    console.log(`browser -> VM: ${(pipe.stats.toVmBytes / 2 ** 20).toFixed(1)} MiB taken from the WebSocket, VM backlog max ${(pipe.stats.maxVmBacklogBytes / 1024).toFixed(0)} KiB, ws paused ${pipe.stats.browserPauses} times`);
    expect(pipe.stats.browserPauses).toBeGreaterThan(0);
    // The panel holds at most a few frames for the VM; the rest waits in the browser and the kernel.
    expect(pipe.stats.maxVmBacklogBytes).toBeLessThan(2 * 2 ** 20);
    expect(pipe.stats.toVmBytes).toBeLessThan(FRAMES * FRAME);

    let got = 0;
    vmSide.on('data', (d: Buffer) => (got += d.length));
    vmSide.resume();
    const until = Date.now() + 20_000;
    while (got < FRAMES * FRAME && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe(FRAMES * FRAME);
    await close();
  });
});

describe('a held pipe', () => {
  it('moves no byte either way until start() (the bridge’s last check runs meanwhile)', async () => {
    // The "VM" greets at once, as the RFB server does, and records what it is sent.
    let toVm = '';
    const { browser, pipe, close } = await pipeRig((s) => { s.write('RFB 003.008\n'); s.on('data', (d) => (toVm += d)); }, { held: true });
    let toBrowser = '';
    browser.on('message', (d: Buffer) => (toBrowser += d.toString('latin1'))); // held: nothing can have arrived yet
    browser.send(Buffer.from('RFB 003.008\n'));
    await new Promise((r) => setTimeout(r, 300));
    expect(toBrowser).toBe('');
    expect(toVm).toBe('');
    pipe.start();
    const until = Date.now() + 5000;
    while ((toBrowser === '' || toVm === '') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(toBrowser).toBe('RFB 003.008\n');
    expect(toVm).toBe('RFB 003.008\n');
    await close();
  });
});
