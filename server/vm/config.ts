// What TypeScript knows about the VM process (native/build/kvmvmm-runner):
// the CONFIG.json the host agent writes for it and its exit codes. The runner
// parses and checks the file itself (native/src/runner/args.h documents the
// keys and limits; a bad file is one `error: config: ...` line and exit 2).

/** Recent serial output the runner replays to each new serial client. */
export const SERIAL_RING_BYTES = 256 * 1024;

type UnixPath = `unix:${string}`;

/** `kvmvmm-runner CONFIG.json`: the same settings as the `npm run vm` flags. */
export interface VmRunConfig {
  id?: string;
  /** Process title `kvmpanel-vm <name>`, VNC desktop name. */
  name?: string;
  memoryMiB: number;
  vcpus: number;
  kernel: string;
  initrd?: string;
  cmdline?: string;
  disks?: { path: string; readonly?: boolean }[];
  net?: { tap: string; mac?: string };
  /** Default 1024x768; null: no framebuffer. */
  framebuffer?: { width: number; height: number } | null;
  /** Default "stdio"; "unix:PATH": many clients, recent output replayed on attach. */
  serial?: 'stdio' | 'none' | UnixPath;
  vnc?: UnixPath;
  /** JSON-lines control socket: status, stop, powerbutton, key, pointer (native/src/runner/main.cc). */
  control?: UnixPath;
  pidFile?: string;
}

/** Distinct process exit codes, one per way a VM ends. */
export const EXIT_CODES = {
  poweroff: 0,
  usage: 2, // bad arguments, bad kernel, bad config: nothing ran
  failure: 1, // unexpected failure of the runner itself
  reset: 10,
  'triple-fault': 11,
  'internal-error': 12,
  'fail-entry': 13,
  'vmm-error': 14,
  stopped: 15,
} as const;
