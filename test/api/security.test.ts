// Every VM procedure refuses anonymous callers and other tenants; hostile
// input never causes a 500 and never changes anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../../server/api/root';
import { addImage, client, errorOf, jarOf, startPanel, withUsers, type TestPanel } from '../support/server';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
let vmId: string;
let imageId: string;

beforeAll(async () => {
  panel = await startPanel('sqlite');
  setup = await withUsers(panel, 2);
  imageId = (await addImage(panel.db)).id;
  vmId = (await setup.users[0]!.c.vm.create.mutate({ name: 'victim', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 })).id;
});
afterAll(async () => { await panel.close(); });

type Kind = 'query' | 'mutation' | 'subscription';
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: Kind } }>).map(([path, p]) => ({ path, type: p._def.type }));

async function call(path: string, type: Kind, input: unknown, cookie?: string, rawBody?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (cookie) headers.cookie = cookie;
  // Plain JSON in superjson's envelope: the server must cope with anything, including keys superjson itself refuses.
  const encoded = JSON.stringify({ json: input });
  const res = type === 'query'
    ? await fetch(`${panel.url}/api/trpc/${path}?input=${encodeURIComponent(rawBody ?? encoded)}`, { headers })
    : await fetch(`${panel.url}/api/trpc/${path}`, { method: 'POST', headers, body: rawBody ?? encoded });
  const text = await res.text();
  return { status: res.status, text };
}

function cookieOf(c: object) {
  return [...jarOf(c)].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function snapshot() {
  const db = panel.db;
  const [users, vms, shares, tokens, quotas, settings, images] = await Promise.all([
    db.user.findMany({ orderBy: { id: 'asc' } }), db.vm.findMany({ orderBy: { id: 'asc' } }), db.vmShare.findMany({ orderBy: { id: 'asc' } }),
    db.apiToken.findMany({ orderBy: { id: 'asc' } }), db.quota.findMany({ orderBy: { userId: 'asc' } }), db.settings.findMany(), db.image.findMany({ orderBy: { id: 'asc' } }),
  ]);
  return JSON.stringify({ users, vms, shares, tokens, quotas, settings, images });
}

describe('authorization on every VM procedure', () => {
  // Subscriptions are streams: the live feed's authorization is tested in live.test.ts.
  const vmProcedures = procedures.filter((p) => (p.path.startsWith('vm.') || p.path.startsWith('share.')) && p.type !== 'subscription');

  it('covers the procedures it should', () => {
    expect(procedures.filter((p) => p.type === 'subscription').map((p) => p.path)).toEqual(['vm.onChange']);
    expect(vmProcedures.map((p) => p.path).sort()).toEqual([
      'share.add', 'share.list', 'share.revoke', 'share.update',
      'vm.create', 'vm.delete', 'vm.forceStop', 'vm.get', 'vm.list', 'vm.metrics', 'vm.reboot', 'vm.rename', 'vm.reset', 'vm.resize', 'vm.start', 'vm.stop',
    ]);
  });

  const inputFor = (path: string) => {
    const base = { id: vmId, vmId };
    switch (path) {
      case 'vm.list': return undefined;
      case 'vm.create': return { name: 'x', imageId: 'nope', vcpus: 1, memoryMiB: 64, diskGiB: 1 };
      case 'vm.rename': return { id: vmId, name: 'stolen' };
      case 'vm.resize': return { id: vmId, vcpus: 2, memoryMiB: 64, diskGiB: 2 };
      case 'vm.delete': return { id: vmId, force: true };
      case 'share.add': return { vmId, email: 'user1@example.org', role: 'operator' };
      case 'share.update': return { vmId, userId: setup.users[1]!.id, role: 'operator' };
      case 'share.revoke': return { vmId, userId: setup.users[1]!.id };
      case 'share.list': return { id: vmId };
      default: return { id: base.id };
    }
  };

  it('refuses an anonymous caller on every one (UNAUTHORIZED), changing nothing', async () => {
    const before = await snapshot();
    for (const p of vmProcedures) {
      const r = await call(p.path, p.type, inputFor(p.path));
      expect(r.status, p.path).toBe(401);
    }
    expect(await snapshot()).toBe(before);
  });

  it('tells another tenant "not found" on every one that names the VM, changing nothing', async () => {
    const before = await snapshot();
    const mallory = cookieOf(setup.users[1]!.c);
    for (const p of vmProcedures) {
      if (p.path === 'vm.list' || p.path === 'vm.create') continue;
      const r = await call(p.path, p.type, inputFor(p.path), mallory);
      expect(r.status, p.path).toBe(404);
      expect(r.text, p.path).toContain('No such VM.');
    }
    const list = await setup.users[1]!.c.vm.list.query();
    expect([...list.mine, ...list.shared].map((v) => v.id)).not.toContain(vmId);
    expect(await snapshot()).toBe(before);
  });

  it('admin procedures refuse ordinary users', async () => {
    const u = setup.users[1]!.c;
    for (const f of [() => u.admin.users.query(), () => u.admin.vms.query(), () => u.admin.settings.query(),
      () => u.admin.updateUser.mutate({ id: setup.users[1]!.id, role: 'admin' }),
      () => u.admin.createUser.mutate({ email: 'x@example.org', name: 'x', password: 'xxxxxxxxxxxx', role: 'admin' })]) {
      expect((await errorOf(f())).code).toBe('FORBIDDEN');
    }
    expect((await panel.db.user.findUniqueOrThrow({ where: { id: setup.users[1]!.id } })).role).toBe('user');
  });

  it('an ordinary user cannot read other tenants\' audit events', async () => {
    // Mallory sees only her own refused attempts, which reveal nothing she did not send.
    const theirs = await setup.users[1]!.c.audit.list.query({ vmId });
    for (const e of theirs.events) {
      expect(e.actorId).toBe(setup.users[1]!.id);
      expect(e.outcome).toBe('denied');
      expect(e.targetName).toBe('');
    }
    expect(theirs.events.some((e) => e.action === 'vm.create')).toBe(false);
    const mine = await setup.users[0]!.c.audit.list.query({ vmId });
    expect(mine.events.length).toBeGreaterThan(0);
  });
});

describe('hostile input', () => {
  // Deterministic pseudo-random values: boundary numbers, wrong types, huge and
  // control-laden strings, nested junk, prototype-pollution keys.
  let seed = 1234567;
  const rnd = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
  const strings = ['', ' ', 'a', 'x'.repeat(100_000), '\u0000', '\n\r\t', '<script>alert(1)</script>', "'; DROP TABLE \"Vm\"; --", '../../etc/passwd', '🙂'.repeat(50), vmId, 'admin@example.org', '__proto__'];
  const numbers = [0, -0, -1, 1, 1.5, -1.5, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity];
  function value(depth = 0): unknown {
    switch (rnd(depth > 2 ? 5 : 8)) {
      case 0: return strings[rnd(strings.length)];
      case 1: return numbers[rnd(numbers.length)];
      case 2: return rnd(2) === 0;
      case 3: return null;
      case 4: return undefined;
      case 5: return Array.from({ length: rnd(4) }, () => value(depth + 1));
      case 6: return rnd(2) ? '1970-01-01T00:00:00.000Z' : { $date: 'x' };
      default: {
        const o: Record<string, unknown> = {};
        const keys = ['id', 'vmId', 'name', 'email', 'password', 'role', 'vcpus', 'memoryMiB', 'diskGiB', 'imageId', 'quota', 'force', 'constructor', '__proto__', 'userId', 'current', 'next', 'signupEnabled', 'defaultQuota', 'limit', 'cursor'];
        for (let i = rnd(6); i > 0; i--) o[keys[rnd(keys.length)]!] = value(depth + 1);
        return o;
      }
    }
  }

  it('fuzzes every procedure: never a 500, never a change', async () => {
    const adminCookie = cookieOf(setup.admin);
    const userCookie = cookieOf(setup.users[0]!.c);
    // Procedures without input would legitimately act (sign out): they are covered elsewhere.
    const targets = procedures.filter((p) => !['auth.signOut', 'auth.signOutEverywhere'].includes(p.path) && p.type !== 'subscription');
    const before = await snapshot();
    let calls = 0;
    const statuses = new Map<number, number>();
    for (let round = 0; round < 12; round++) {
      for (const p of targets) {
        for (const cookie of [adminCookie, userCookie, undefined]) {
          const raw = rnd(10) === 0 ? ['{', 'null', '"', '{"json":', '[]', '\u0000', '{"json":{"id":{"$ref":1}}}'][rnd(7)] : undefined;
          const r = await call(p.path, p.type, value(), cookie, raw);
          calls++;
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          expect(r.status, `${p.path} → ${r.text.slice(0, 300)}`).toBeLessThan(500);
          expect(r.text).not.toMatch(/prisma|at Object\.|node_modules/i);
        }
      }
    }
    expect(await snapshot()).toBe(before);
    expect(calls).toBeGreaterThan(1000);
    expect(statuses.get(400)).toBeGreaterThan(100);
    // The sessions used for fuzzing are still valid: nothing signed anyone out.
    expect(await setup.users[0]!.c.auth.me.query()).not.toBeNull();
  });

  it('names the field in BAD_REQUEST messages', async () => {
    const c = setup.users[0]!.c;
    const cases: [unknown, RegExp][] = [
      [{ name: 'ok', imageId, vcpus: -1, memoryMiB: 64, diskGiB: 1 }, /^vcpus: vCPUs must be at least 1\./],
      [{ name: 'ok', imageId, vcpus: 1, memoryMiB: 64.5, diskGiB: 1 }, /^memoryMiB: Memory must be a whole number\./],
      [{ name: 'ok', imageId, vcpus: 1, memoryMiB: 64, diskGiB: '1' }, /^diskGiB: Disk must be a number\./],
      [{ name: 'bad\u0007name', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }, /^name: Lowercase letters/],
      [{ name: 'x'.repeat(10_000), imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 }, /^name: At most 63 characters\./],
      [{ name: 'ok', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1, owner: 'someone-else' }, /Unrecognized key.*owner/],
    ];
    for (const [input, re] of cases) {
      const e = await errorOf(c.vm.create.mutate(input as never));
      expect(e.code).toBe('BAD_REQUEST');
      expect(e.message).toMatch(re);
    }
  });

  it('refuses oversized request bodies', async () => {
    const r = await call('auth.signIn', 'mutation', { email: 'a', password: 'x'.repeat(2 * 1024 * 1024) });
    expect(r.status).toBe(413);
  });
});

it('a fresh client has no session', async () => {
  expect(await client(panel.url).auth.me.query()).toBeNull();
});
