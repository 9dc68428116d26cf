import { describe, expect, it } from 'vitest';
import { chooseHost, CPU_OVERCOMMIT } from '../../server/domain/placement';

const host = (id: string, memoryMiB: number, allocatedMemoryMiB = 0, cpus = 2, allocatedVcpus = 0) => ({ id, cpus, memoryMiB, allocatedVcpus, allocatedMemoryMiB });

describe('placement', () => {
  it('says clearly when there is no host', () => {
    expect(chooseHost([], { vcpus: 1, memoryMiB: 64 })).toEqual({ hostId: null, reason: 'No host available: no host agent is registered with this panel.' });
  });

  it('picks the host with the most free memory that fits', () => {
    expect(chooseHost([host('a', 8192, 4096), host('b', 4096, 0), host('c', 16384, 15000)], { vcpus: 1, memoryMiB: 1024 })).toEqual({ hostId: 'a' });
  });

  it('never overcommits memory, allows bounded vCPU overcommit', () => {
    expect(chooseHost([host('a', 1024, 512)], { vcpus: 1, memoryMiB: 513 }).hostId).toBeNull();
    expect(chooseHost([host('a', 1024, 512)], { vcpus: 1, memoryMiB: 512 }).hostId).toBe('a');
    expect(chooseHost([host('a', 8192, 0, 2, 2 * CPU_OVERCOMMIT - 1)], { vcpus: 1, memoryMiB: 64 }).hostId).toBe('a');
    const full = chooseHost([host('a', 8192, 0, 2, 2 * CPU_OVERCOMMIT)], { vcpus: 1, memoryMiB: 64 });
    expect(full).toEqual({ hostId: null, reason: 'No host has room for 1 vCPUs and 64 MiB.' });
  });
});
