// What the panel asks of a host agent. The same interface is implemented
// in-process (the local agent) and over the network (remote agents).
import type { Duplex } from 'node:stream';
import type { ConsoleKind } from '../console/protocol';

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
  diskGiB: number; // free space of the data dir
  /** The data dir's file system, in bytes (for the admins' host view; optional for older agents). */
  diskTotalBytes?: number;
  diskFreeBytes?: number;
}

export interface VmStatus {
  running: boolean;
  pid: number | null;
  uptimeSeconds: number | null;
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
  /**
   * force: ends the VM now; otherwise presses the ACPI power button (the panel forces it after a timeout).
   * A VM with no process on the host is already stopped: that is reported ("stopped") again, not an error.
   */
  stop(vmId: string, opts: { force: boolean }): Promise<StopResult | void>;
  /** force: a reset now; otherwise the guest is asked to shut down and starts again once it has. */
  reboot(vmId: string, opts?: { force?: boolean }): Promise<void>;
  /** null when the VM is not running on this host. */
  metrics(vmId: string): Promise<VmMetrics | null>;
  /** Whether the VM's process runs on this host, and since when. */
  status(vmId: string): Promise<VmStatus>;
  /** Grows the VM's disk to diskGiB (sparse; never shrinks). The VM is stopped (a resize needs it). */
  resizeDisk(vmId: string, diskGiB: number): Promise<void>;
  /**
   * A byte stream to the running VM's console: RFB for 'vnc', the serial
   * port for 'serial' (which first replays the VM's recent output). Rejects
   * with AgentError when the VM is not running here or refuses the connection.
   */
  openConsole(vmId: string, kind: ConsoleKind): Promise<Duplex>;
}

/** What a stop found; `alreadyStopped`: no process of the VM was running (older agents return nothing). */
export interface StopResult {
  alreadyStopped: boolean;
}

/** The two consoles of a VM process: 'vnc' | 'serial'. */
export type { ConsoleKind } from '../console/protocol';

/** A failure of a host agent with a message meant for the user (missing kernel, disk full, …). */
export class AgentError extends Error {}
