// The built-in images and where image files live:
//   DATA_DIR/images/<name>/          a built-in image (`npm run images`), with image.json
//   DATA_DIR/images/imported/<id>/   files an admin uploaded
//   DATA_DIR/images/.uploads/        uploads in flight (temporary)
// and which hosts an image can run on. A stock Linux kernel needs hardware
// virtualization: on a PVM host (nested KVM without VT-x/AMD-V) its
// kernel-mode code is emulated and it stops in early boot
// (/work/shared/notes/kvm-on-these-machines.md); the project's test guest
// runs everywhere.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where an image can run: every KVM host, only hosts with VT-x/AMD-V, or not known (imported files). */
export type RunsOn = 'any' | 'hardware-kvm' | 'unknown';
export type HostKvm = 'pvm' | 'hardware' | 'none';

export const BUILTIN_NAMES = ['test-guest', 'debian-busybox', 'debian'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** What `npm run images` writes beside a built-in image's files (paths relative to its directory). */
export interface ImageManifest {
  name: BuiltinName;
  kind: 'test-guest' | 'linux' | 'debian';
  description: string;
  kernel: string;
  initrd?: string;
  disk?: string;
  cmdline: string;
  minMemoryMiB: number;
  runsOn: RunsOn;
  /** Where the files came from (Debian package versions), for humans and for "is it up to date". */
  source: Record<string, string>;
}

export const imagesDir = (dataDir: string) => path.join(dataDir, 'images');
export const builtinDir = (dataDir: string, name: BuiltinName) => path.join(imagesDir(dataDir), name);
export const importedDir = (dataDir: string, id: string) => path.join(imagesDir(dataDir), 'imported', id);
export const uploadsDir = (dataDir: string) => path.join(imagesDir(dataDir), '.uploads');
export const MANIFEST = 'image.json';

export function readManifest(dir: string): ImageManifest | null {
  const file = path.join(dir, MANIFEST);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ImageManifest;
  } catch {
    return null;
  }
}

/** The catalog row of a built-in image whose files are all present; null when something is missing. */
export function manifestToImage(dir: string, m: ImageManifest) {
  const abs = (f: string | undefined) => (f ? path.join(dir, f) : null);
  const files = [abs(m.kernel), abs(m.initrd), abs(m.disk)].filter((f): f is string => f !== null);
  if (!files.every((f) => existsSync(f))) return null;
  return {
    name: m.name,
    kind: m.kind,
    description: m.description,
    kernelPath: abs(m.kernel)!,
    initrdPath: abs(m.initrd),
    diskTemplatePath: abs(m.disk),
    cmdline: m.cmdline,
    minMemoryMiB: m.minMemoryMiB,
    builtin: true,
  };
}

/** Derived from the kind (the catalog has no column for it): the test guest runs anywhere, Linux needs VT-x/AMD-V. */
export function runsOnOf(image: { kind: string; builtin: boolean }): RunsOn {
  if (image.kind === 'test-guest') return 'any';
  if (image.builtin) return 'hardware-kvm';
  return 'unknown';
}

export function runsOnHost(runsOn: RunsOn, host: HostKvm): boolean | null {
  if (host === 'none') return false;
  if (runsOn === 'any') return true;
  if (runsOn === 'hardware-kvm') return host === 'hardware';
  return null;
}

/**
 * Catalog order; the first image is what the create form preselects. On a
 * PVM host (or one without KVM) images that boot everywhere come first, so
 * the test guest stays the default; on hardware KVM the Debian images lead.
 */
export function catalogOrder<T extends { name: string; kind: string; builtin: boolean }>(images: T[], host: HostKvm): T[] {
  const rank = (i: T) => {
    const here = runsOnHost(runsOnOf(i), host);
    const builtinRank = i.builtin ? (host === 'hardware' ? ['debian', 'debian-busybox', 'test-guest'] : ['test-guest', 'debian-busybox', 'debian']).indexOf(i.name) : -1;
    return [here === true ? 0 : here === null ? 1 : 2, i.builtin ? 0 : 1, builtinRank < 0 ? 99 : builtinRank];
  };
  return [...images].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let k = 0; k < ra.length; k++) if (ra[k] !== rb[k]) return ra[k]! - rb[k]!;
    return a.name.localeCompare(b.name);
  });
}

/** What kind of KVM this machine offers (PVM: the kvm_pvm module, guest kernel code emulated). */
export function detectHostKvm(): HostKvm {
  if (!existsSync('/dev/kvm')) return 'none';
  if (existsSync('/sys/module/kvm_pvm')) return 'pvm';
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch { /* not Linux */ }
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo) ? 'hardware' : 'pvm';
}

export const PVM_NOTE = 'Needs a host with hardware virtualization (VT-x/AMD-V): on a PVM host (nested KVM without VT-x, like the project\'s own test machines) a stock Linux kernel stops in early boot and never reaches userspace.';
