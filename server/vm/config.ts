// The run configuration of one VM process (written as JSON by the host
// agent, or built from `npm run vm` arguments), and the process's exit codes.
import * as z from "zod/mini";

export const SERIAL_RING_BYTES = 256 * 1024;

const unixPath = z.string().check(z.regex(/^unix:.+/, "expected unix:PATH"));

export const vmRunConfigSchema = z.object({
  id: z.optional(z.string()),
  name: z.optional(z.string()),
  memoryMiB: z.int().check(z.minimum(16, "memory: at least 16 MiB"), z.maximum(1 << 20)),
  vcpus: z.int().check(z.minimum(1), z.maximum(64)),
  kernel: z.string().check(z.minLength(1)),
  initrd: z.optional(z.string()),
  cmdline: z._default(z.string(), ""),
  disks: z._default(
    z.array(z.object({ path: z.string().check(z.minLength(1)), readonly: z._default(z.boolean(), false) })),
    [],
  ),
  net: z.optional(
    z.object({
      tap: z.string().check(z.minLength(1), z.maxLength(15)),
      mac: z.optional(z.string().check(z.regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, "bad MAC address"))),
    }),
  ),
  framebuffer: z._default(
    z.nullable(
      z.object({
        width: z.int().check(z.minimum(1), z.maximum(1920)),
        height: z.int().check(z.minimum(1), z.maximum(1080)),
      }),
    ),
    { width: 1024, height: 768 },
  ),
  /** "stdio" or "unix:PATH" (many clients; recent output replayed on attach). */
  serial: z._default(z.union([z.literal("stdio"), unixPath, z.literal("none")]), "stdio"),
  vnc: z.optional(unixPath),
  /** JSON-lines control socket: status, stop, key, pointer. */
  control: z.optional(unixPath),
  pidFile: z.optional(z.string()),
});

export type VmRunConfig = z.output<typeof vmRunConfigSchema>;
export type VmRunConfigInput = z.input<typeof vmRunConfigSchema>;

/** Parses or throws an Error whose message is one line. */
export function parseRunConfig(input: unknown): VmRunConfig {
  const r = vmRunConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where = first && first.path.length ? first.path.join(".") + ": " : "";
  throw new Error(`config: ${where}${first ? first.message : "invalid"}`);
}

/** Distinct process exit codes, one per way a VM ends. */
export const EXIT_CODES = {
  poweroff: 0,
  usage: 2, // bad arguments, bad kernel, bad config: nothing ran
  failure: 1, // unexpected failure of the runner itself
  reset: 10,
  "triple-fault": 11,
  "internal-error": 12,
  "fail-entry": 13,
  "vmm-error": 14,
  stopped: 15,
} as const;
