// Where a new VM goes. Pure: the caller supplies each connected host's
// capacity and what its VMs already have. Memory is never overcommitted
// (a guest touching RAM that is not there takes the host down); vCPUs may be,
// up to CPU_OVERCOMMIT times the host's cores, as idle guests cost nothing.

export const CPU_OVERCOMMIT = 4;

export interface HostLoad {
  id: string;
  cpus: number;
  memoryMiB: number;
  allocatedVcpus: number;
  allocatedMemoryMiB: number;
}

export interface Placement {
  hostId: string | null;
  reason?: string;
}

/** The host with the most free memory that fits the request, or why none does. */
export function chooseHost(hosts: readonly HostLoad[], want: { vcpus: number; memoryMiB: number }): Placement {
  if (hosts.length === 0) return { hostId: null, reason: 'No host available: no host agent is registered with this panel.' };
  const fits = hosts.filter(
    (h) => h.memoryMiB - h.allocatedMemoryMiB >= want.memoryMiB && h.cpus * CPU_OVERCOMMIT - h.allocatedVcpus >= want.vcpus,
  );
  if (fits.length === 0) return { hostId: null, reason: `No host has room for ${want.vcpus} vCPUs and ${want.memoryMiB} MiB.` };
  const best = fits.reduce((a, b) => (b.memoryMiB - b.allocatedMemoryMiB > a.memoryMiB - a.allocatedMemoryMiB ? b : a));
  return { hostId: best.id };
}
