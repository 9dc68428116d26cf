// What the panel asks of a host agent. The same interface is implemented
// in-process (the local agent) and over the network (remote agents).

export interface VmSpec {
  id: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  image: { kernelPath: string; initrdPath: string | null; diskTemplatePath: string | null; cmdline: string };
}

export interface HostCapacity {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** A running VM's counters; the UI turns successive samples into rates. */
export interface VmMetrics {
  at: number; // ms since epoch
  uptimeSeconds: number;
  cpuSeconds: number; // vCPU threads' CPU time
  processCpuSeconds: number; // the whole VM process (vCPUs + device emulation)
  rssBytes: number; // resident memory of the VM process, guest RAM it touched included
  memoryBytes: number; // configured guest RAM
  diskReadBytes: number;
  diskWriteBytes: number;
  netRxBytes: number;
  netTxBytes: number;
}

export interface HostAgent {
  readonly hostId: string;
  capacity(): Promise<HostCapacity>;
  createDisk(vm: VmSpec): Promise<void>;
  deleteDisk(vmId: string): Promise<void>;
  start(vm: VmSpec): Promise<void>;
  stop(vmId: string, opts: { force: boolean }): Promise<void>;
  reboot(vmId: string): Promise<void>;
  /** null when the VM is not running on this host. */
  metrics(vmId: string): Promise<VmMetrics | null>;
}

/** A failure of a host agent with a message meant for the user (missing kernel, disk full, …). */
export class AgentError extends Error {}
