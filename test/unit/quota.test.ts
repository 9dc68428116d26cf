import { describe, expect, it } from 'vitest';
import { checkQuota, deltaForCreate, deltaForResize, overLimit, remaining, usageOf, ZERO_USAGE, type QuotaLimits } from '../../server/domain/quota';

const limits: QuotaLimits = { vms: 3, vcpus: 8, memoryMiB: 4096, diskGiB: 50, runningVms: 2 };

describe('quota arithmetic', () => {
  it('allows growth that fits exactly', () => {
    expect(checkQuota(limits, ZERO_USAGE, { vms: 3, vcpus: 8, memoryMiB: 4096, diskGiB: 50, runningVms: 2 })).toEqual({ ok: true });
  });

  it('refuses growth one unit over, naming resource, requested and remaining', () => {
    const usage = { vms: 1, vcpus: 6, memoryMiB: 1024, diskGiB: 10, runningVms: 0 };
    const d = checkQuota(limits, usage, { vms: 1, vcpus: 3, memoryMiB: 512, diskGiB: 5 });
    expect(d).toEqual({ ok: false, violations: [{ resource: 'vcpus', requested: 3, remaining: 2, limit: 8 }] });
  });

  it('reports every exceeded resource', () => {
    const d = checkQuota(limits, ZERO_USAGE, { vms: 4, vcpus: 9, memoryMiB: 5000, diskGiB: 51, runningVms: 3 });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.violations.map((v) => v.resource)).toEqual(['vms', 'vcpus', 'memoryMiB', 'diskGiB', 'runningVms']);
  });

  it('always allows shrinking, even above a lowered limit', () => {
    const usage = { vms: 5, vcpus: 20, memoryMiB: 9000, diskGiB: 100, runningVms: 4 };
    expect(checkQuota(limits, usage, { vcpus: -2, memoryMiB: -1000 })).toEqual({ ok: true });
    expect(checkQuota(limits, usage, { vcpus: 1 }).ok).toBe(false);
  });

  it('never reports negative remaining', () => {
    const usage = { vms: 5, vcpus: 20, memoryMiB: 9000, diskGiB: 100, runningVms: 4 };
    expect(remaining(limits, usage)).toEqual({ vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0, runningVms: 0 });
    expect(overLimit(limits, usage)).toEqual(['vms', 'vcpus', 'memoryMiB', 'diskGiB', 'runningVms']);
    expect(overLimit(limits, ZERO_USAGE)).toEqual([]);
  });

  it('a zero limit refuses any growth', () => {
    const zero = { ...limits, vms: 0 };
    expect(checkQuota(zero, ZERO_USAGE, { vms: 1 }).ok).toBe(false);
    expect(checkQuota(zero, ZERO_USAGE, { vcpus: 1 }).ok).toBe(true);
  });

  it('derives usage from owned VMs and counts only active ones as running', () => {
    const u = usageOf([
      { vcpus: 2, memoryMiB: 512, diskGiB: 10, running: true },
      { vcpus: 1, memoryMiB: 256, diskGiB: 5, running: false },
    ]);
    expect(u).toEqual({ vms: 2, vcpus: 3, memoryMiB: 768, diskGiB: 15, runningVms: 1 });
  });

  it('computes create and resize deltas', () => {
    expect(deltaForCreate({ vcpus: 2, memoryMiB: 512, diskGiB: 10 })).toEqual({ vms: 1, vcpus: 2, memoryMiB: 512, diskGiB: 10 });
    expect(deltaForResize({ vcpus: 2, memoryMiB: 512, diskGiB: 10 }, { vcpus: 1, memoryMiB: 1024, diskGiB: 10 })).toEqual({ vcpus: -1, memoryMiB: 512, diskGiB: 0 });
  });

  it('random sequences never let usage exceed limits when every growth is checked', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round++) {
      let usage = { ...ZERO_USAGE };
      for (let i = 0; i < 50; i++) {
        const delta = { vms: rand(2), vcpus: rand(5) - 1, memoryMiB: rand(2000) - 500, diskGiB: rand(20) - 5, runningVms: rand(3) - 1 };
        const next = { vms: usage.vms + delta.vms, vcpus: Math.max(0, usage.vcpus + delta.vcpus), memoryMiB: Math.max(0, usage.memoryMiB + delta.memoryMiB), diskGiB: Math.max(0, usage.diskGiB + delta.diskGiB), runningVms: Math.max(0, usage.runningVms + delta.runningVms) };
        if (checkQuota(limits, usage, delta).ok) usage = next;
        for (const k of Object.keys(limits) as (keyof QuotaLimits)[]) expect(usage[k]).toBeLessThanOrEqual(limits[k]);
      }
    }
  });
});
