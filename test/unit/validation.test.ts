import { describe, expect, it } from 'vitest';
import { createVmInput, minDiskGiB, email, fieldErrors, vmName, displayName, quotaInput } from '../../server/domain/validation';
import { LoginThrottle } from '../../server/auth/throttle';
import { readCookie, sessionCookie } from '../../server/auth/cookies';

describe('input rules', () => {
  it('accepts DNS-label VM names only', () => {
    for (const ok of ['a', 'web-1', '0abc', 'x'.repeat(63)]) expect(vmName.safeParse(ok).success).toBe(true);
    for (const bad of ['', '-a', 'a-', 'A', 'a_b', 'a b', 'x'.repeat(64), 'é', 'a\n', 'a\u0000']) expect(vmName.safeParse(bad).success).toBe(false);
  });

  it('refuses control characters in display names', () => {
    expect(displayName.safeParse('Ada Lovelace').success).toBe(true);
    for (const bad of ['a\u0007b', 'x\u202Ey'.replace('\u202E', '\u2028'), '\u0000', '  ']) expect(displayName.safeParse(bad).success).toBe(false);
  });

  it('normalizes emails', () => {
    expect(email.parse('  Ada@Example.ORG ')).toBe('ada@example.org');
    expect(email.safeParse('not-an-email').success).toBe(false);
  });

  it('names the field for every bad size, and refuses unknown fields', () => {
    const r = createVmInput.safeParse({ name: 'ok', imageId: 'img', vcpus: 1.5, memoryMiB: -1, diskGiB: '3', extra: 1 });
    expect(r.success).toBe(false);
    if (!r.success) {
      const fe = fieldErrors(r.error);
      expect(fe.vcpus).toMatch(/whole number/);
      expect(fe.memoryMiB).toMatch(/at least/);
      expect(fe.diskGiB).toMatch(/number/);
      expect(Object.values(fe).join(' ')).toMatch(/extra/);
    }
  });

  it('bounds quota values', () => {
    expect(quotaInput.safeParse({ vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 }).success).toBe(true);
    expect(quotaInput.safeParse({ vms: -1, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 }).success).toBe(false);
    expect(quotaInput.safeParse({ vms: Number.POSITIVE_INFINITY, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 }).success).toBe(false);
  });
});

describe('login throttle', () => {
  it('blocks an account after repeated failures and lets it in after the window', () => {
    let now = 1_000_000;
    const t = new LoginThrottle({ windowMs: 60_000, maxPerAccount: 3, maxPerAddress: 100, now: () => now });
    for (let i = 0; i < 3; i++) { expect(t.retryAfter('a@x', '1.1.1.1')).toBe(0); t.fail('a@x', '1.1.1.1'); }
    expect(t.retryAfter('a@x', '2.2.2.2')).toBeGreaterThan(0); // per account, whatever the address
    expect(t.retryAfter('b@x', '1.1.1.1')).toBe(0);
    now += 60_001;
    expect(t.retryAfter('a@x', '1.1.1.1')).toBe(0);
  });

  it('blocks an address that sprays many accounts', () => {
    const t = new LoginThrottle({ windowMs: 60_000, maxPerAccount: 100, maxPerAddress: 5 });
    for (let i = 0; i < 5; i++) t.fail(`u${i}@x`, '9.9.9.9');
    expect(t.retryAfter('fresh@x', '9.9.9.9')).toBeGreaterThan(0);
    expect(t.retryAfter('fresh@x', '8.8.8.8')).toBe(0);
  });
});

describe('session cookie', () => {
  it('is httpOnly, SameSite=Lax, Secure only over https', () => {
    expect(sessionCookie('t', 60, false)).toBe('kvmpanel_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
    expect(sessionCookie('t', 60, true)).toMatch(/; Secure$/);
    expect(readCookie('a=1; kvmpanel_session=abc; b=2', 'kvmpanel_session')).toBe('abc');
    expect(readCookie(undefined, 'x')).toBeUndefined();
  });
});

describe('minDiskGiB', () => {
  it('rounds a template up to whole GiB, at least 1', () => {
    expect(minDiskGiB(0)).toBe(1);
    expect(minDiskGiB(1)).toBe(1);
    expect(minDiskGiB(2 ** 30)).toBe(1);
    expect(minDiskGiB(2 ** 30 + 1)).toBe(2);
    expect(minDiskGiB(2 * 2 ** 30 + 4096)).toBe(3);
  });
});
