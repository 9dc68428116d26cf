import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, client, errorOf, jarOf, startPanel, type TestPanel } from '../support/server';

let panel: TestPanel;
beforeAll(async () => { panel = await startPanel('sqlite'); });
afterAll(async () => { await panel.close(); });

describe('accounts and sessions over HTTP', () => {
  it('first run: setup creates the first admin once, then is refused', async () => {
    const anon = client(panel.url);
    expect(await anon.auth.status.query()).toEqual({ needsSetup: true, signupEnabled: false });
    const bad = await errorOf(anon.auth.setup.mutate({ ...ADMIN, password: 'short' }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/^password: At least 10/);

    const a = client(panel.url);
    await a.auth.setup.mutate(ADMIN);
    expect((await a.auth.me.query())?.role).toBe('admin');
    expect((await anon.auth.status.query()).needsSetup).toBe(false);
    const again = await errorOf(client(panel.url).auth.setup.mutate({ ...ADMIN, email: 'evil@example.org' }));
    expect(again.code).toBe('FORBIDDEN');
    expect(await panel.db.user.count()).toBe(1);
  });

  it('stores passwords as argon2id hashes and sessions as hashes', async () => {
    const u = await panel.db.user.findUniqueOrThrow({ where: { email: ADMIN.email } });
    expect(u.passwordHash).toMatch(/^\$argon2id\$/);
    expect(u.passwordHash).not.toContain(ADMIN.password);
    const c = client(panel.url);
    await c.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    const token = jarOf(c).get('kvmpanel_session')!;
    expect(await panel.db.session.findUnique({ where: { id: token } })).toBeNull(); // raw token never stored
  });

  it('sets an httpOnly SameSite=Lax cookie and rotates it at every sign-in (no fixation)', async () => {
    const res = await fetch(`${panel.url}/api/trpc/auth.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'kvmpanel_session=attacker-chosen-token-aaaaaaaaaaaa' },
      body: JSON.stringify({ json: { email: ADMIN.email, password: ADMIN.password } }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^kvmpanel_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Lax');
    expect(cookie).not.toContain('Secure'); // plain http here
    expect(cookie).not.toContain('attacker-chosen');

    const c1 = client(panel.url);
    await c1.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    const first = jarOf(c1).get('kvmpanel_session');
    await c1.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    expect(jarOf(c1).get('kvmpanel_session')).not.toBe(first);
  });

  it('marks cookies Secure when served over https', async () => {
    const p = await startPanel('sqlite', { PUBLIC_URL: 'https://panel.example.org' });
    try {
      const res = await fetch(`${p.url}/api/trpc/auth.setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'https://panel.example.org' },
        body: JSON.stringify({ json: ADMIN }),
      });
      expect(res.headers.getSetCookie()[0]).toContain('; Secure');
    } finally {
      await p.close();
    }
  });

  it('refuses wrong passwords with one message and throttles per account', async () => {
    const c = client(panel.url);
    const e1 = await errorOf(c.auth.signIn.mutate({ email: ADMIN.email, password: 'wrong password!' }));
    const e2 = await errorOf(c.auth.signIn.mutate({ email: 'nobody@example.org', password: 'wrong password!' }));
    expect(e1.message).toBe('Wrong email or password.');
    expect(e2.message).toBe(e1.message);
    const victim = 'victim@example.org';
    for (let i = 0; i < 5; i++) await errorOf(c.auth.signIn.mutate({ email: victim, password: 'guess guess ' + i }));
    const locked = await errorOf(c.auth.signIn.mutate({ email: victim, password: 'another guess' }));
    expect(locked.code).toBe('TOO_MANY_REQUESTS');
    expect(locked.message).toMatch(/Try again in \d+ s/);
  });

  it('signs out, and signs out everywhere', async () => {
    const a = client(panel.url);
    const b = client(panel.url);
    await a.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    await b.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    const stolen = jarOf(a).get('kvmpanel_session')!;
    await a.auth.signOut.mutate();
    expect(await a.auth.me.query()).toBeNull();
    // The old token is dead server-side, not just forgotten by the browser.
    const replay = client(panel.url);
    jarOf(replay).set('kvmpanel_session', stolen);
    expect(await replay.auth.me.query()).toBeNull();

    expect(await b.auth.me.query()).not.toBeNull();
    const c = client(panel.url);
    await c.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    await c.auth.signOutEverywhere.mutate();
    expect(await b.auth.me.query()).toBeNull();
  });

  it('disabling a user ends their sessions and blocks sign-in', async () => {
    const admin = client(panel.url);
    await admin.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    const { id } = await admin.admin.createUser.mutate({ email: 'temp@example.org', name: 'Temp', password: 'temp-password-1', role: 'user' });
    const u = client(panel.url);
    await u.auth.signIn.mutate({ email: 'temp@example.org', password: 'temp-password-1' });
    expect(await u.auth.me.query()).not.toBeNull();
    await admin.admin.updateUser.mutate({ id, disabled: true });
    expect(await u.auth.me.query()).toBeNull();
    expect((await errorOf(u.auth.signIn.mutate({ email: 'temp@example.org', password: 'temp-password-1' }))).code).toBe('UNAUTHORIZED');
  });

  it('self sign-up only when the admin enables it', async () => {
    const anon = client(panel.url);
    const off = await errorOf(anon.auth.signUp.mutate({ email: 'self@example.org', name: 'Self', password: 'self-password-1' }));
    expect(off.code).toBe('FORBIDDEN');
    const admin = client(panel.url);
    await admin.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    await admin.admin.updateSettings.mutate({ signupEnabled: true, defaultQuota: { vms: 2, vcpus: 4, memoryMiB: 2048, diskGiB: 20, runningVms: 1 } });
    await anon.auth.signUp.mutate({ email: 'self@example.org', name: 'Self', password: 'self-password-1' });
    const q = await anon.account.quota.query();
    expect(q.limits).toEqual({ vms: 2, vcpus: 4, memoryMiB: 2048, diskGiB: 20, runningVms: 1 });
    expect((await anon.auth.me.query())?.role).toBe('user');
  });

  it('API tokens: shown once, stored hashed, work as Bearer, die when revoked', async () => {
    const a = client(panel.url);
    await a.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
    const { id, secret } = await a.account.createToken.mutate({ name: 'ci script' });
    expect(secret).toMatch(/^kvp_/);
    const stored = await panel.db.apiToken.findUniqueOrThrow({ where: { id } });
    expect(stored.tokenHash).not.toContain(secret);
    expect((await a.account.tokens.query()).map((t) => t.name)).toContain('ci script');

    const bot = client(panel.url, { bearer: secret });
    expect((await bot.auth.me.query())?.email).toBe(ADMIN.email);
    expect((await bot.vm.list.query()).mine).toEqual([]);
    // A token cannot mint more tokens or read sessions: credential management needs a browser session.
    expect((await errorOf(bot.account.createToken.mutate({ name: 'x' }))).code).toBe('FORBIDDEN');

    await a.account.revokeToken.mutate({ id });
    expect(await bot.auth.me.query()).toBeNull();
    expect((await errorOf(bot.vm.list.query())).code).toBe('UNAUTHORIZED');
    expect((await errorOf(client(panel.url, { bearer: 'kvp_forged' }).vm.list.query())).code).toBe('UNAUTHORIZED');
  });

  it('refuses cross-origin mutations', async () => {
    const evil = client(panel.url, { origin: 'https://evil.example' });
    const e = await errorOf(evil.auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password }));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toBe('Cross-origin request refused.');
  });
});
