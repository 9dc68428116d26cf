// Typed loader of the native VMM addon (native/build/Release/kvmvmm.node).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface NativeDisk {
  path: string;
  readonly?: boolean;
}

export interface NativeVmConfig {
  memoryMiB: number;
  vcpus: number;
  /** A file path, or the image bytes. */
  kernel: string | Uint8Array;
  initrd?: string | Uint8Array;
  cmdline?: string;
  disks?: NativeDisk[];
  net?: { tap: string; mac?: string };
  /** null: no framebuffer. Default 1024x768. */
  framebuffer?: { width: number; height: number } | null;
  rng?: boolean;
  tablet?: boolean;
}

export type ExitReasonName =
  | "poweroff"
  | "reset"
  | "triple-fault"
  | "internal-error"
  | "fail-entry"
  | "vmm-error"
  | "stopped";

export interface VmExit {
  reason: ExitReasonName;
  message: string;
}

export interface FramebufferInfo {
  width: number;
  height: number;
  /** bytes per row */
  stride: number;
  bpp: number;
  enabled: boolean;
  /** bytes mapped (the largest mode) */
  size: number;
}

export interface VmStats {
  vcpus: { cpuNs: number; exits: number; ioExits: number; mmioExits: number }[];
  devices: Record<string, Record<string, number>>;
  ramBytes: number;
}

export interface NativeVm {
  start(): void;
  /** Ends the VM (reason "stopped" unless another came first); onExit follows. */
  stop(): void;
  /** Bytes the UART took; retry the rest after onSerialSpace. */
  writeSerial(data: Uint8Array): number;
  onSerial(cb: (data: Buffer) => void): void;
  onSerialSpace(cb: () => void): void;
  onExit(cb: (exit: VmExit) => void): void;
  onModeChange(cb: (info: FramebufferInfo) => void): void;
  keyEvent(qnum: number, down: boolean): void;
  /** Absolute framebuffer coordinates; buttons bit0 left, bit1 middle, bit2 right. */
  pointerEvent(x: number, y: number, buttons: number, wheel?: number): void;
  /** Presses the ACPI power button: an ACPI guest shuts down and powers off. */
  powerButton(): void;
  /** Zero-copy view of the guest framebuffer (XRGB8888), null without one. */
  framebuffer(): ArrayBuffer | null;
  framebufferInfo(): FramebufferInfo | null;
  /** Pairs [firstRow, endRow) changed since the previous call. */
  collectDirty(): Uint32Array;
  stats(): VmStats;
  /** RFB (VNC) server on a unix socket, security None; throws if it cannot listen. */
  startVnc(socketPath: string, name?: string): void;
  stopVnc(): void;
  /** null when no VNC server runs. */
  vncStats(): VncStats | null;
  /** The latest clipboard text a VNC client sent (ClientCutText, Latin-1), "" if none. */
  vncCutText(): string;
  exitReason(): VmExit | null;
  readonly bootSummary: string;
}

export interface VncStats {
  clients: number;
  accepted: number;
  /** clients closed for a protocol error */
  closedBad: number;
  collections: number;
  updates: number;
  updateBytes: number;
  /** CPU time of the RFB thread */
  cpuNs: number;
  lastUpdateBytes: number;
  lastUpdateRects: number;
  lastUpdateCpuNs: number;
  cutTextBytes: number;
}

export interface NativeVmClass {
  new (config: NativeVmConfig): NativeVm;
  isPvmHost(): boolean;
  pvmNotice(): string;
  /** The e820 map a VM of this size gets (native/src/boot build_e820). */
  e820(memoryMiB: number): E820Entry[];
}

export interface E820Entry {
  addr: number;
  size: number;
  /** 1 RAM, 2 reserved, 3 ACPI */
  type: number;
}

export class AddonMissingError extends Error {}

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  if (process.env.KVMVMM_ADDON) out.push(resolve(process.env.KVMVMM_ADDON));
  // Bundled next to the addon (native/build/*.mjs) or run from server/vm/.
  out.push(join(here, "Release", "kvmvmm.node"));
  out.push(join(here, "..", "..", "native", "build", "Release", "kvmvmm.node"));
  return out;
}

let cached: NativeVmClass | undefined;

export function addonPath(): string | undefined {
  return candidates().find((p) => existsSync(p));
}

export function loadNative(): NativeVmClass {
  if (cached) return cached;
  const path = addonPath();
  if (!path) {
    throw new AddonMissingError(
      "native VMM addon not built (native/build/Release/kvmvmm.node missing): run `npx node-gyp rebuild -C native` or `npm run vm` once",
    );
  }
  const require = createRequire(import.meta.url);
  const mod = require(path) as { Vm: NativeVmClass };
  cached = mod.Vm;
  return cached;
}
