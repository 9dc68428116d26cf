// Debian's stock kernel and a busybox initramfs for the Linux boot test,
// fetched with apt and cached under test/.cache/linux/ so reruns stay offline:
//   test/.cache/linux/<package>/vmlinuz   the bzImage as Debian ships it
//   test/.cache/linux/<package>/vmlinux   the ELF inside it (PVH entry)
//   test/.cache/linux/busybox/initramfs.cpio
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { cpioNewc } from "../../server/images/cpio";
import { ROOT } from "../../server/vm/testing";

export const CACHE = join(ROOT, "test", ".cache", "linux");

function log(msg: string): void {
  process.stderr.write(`linux-test: ${msg}\n`);
}

function sh(cmd: string, args: string[], cwd?: string): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 16 << 20 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** `apt-get download PKG` into dir; `apt-get update` once and retry if that fails. */
function aptDownload(pkg: string, dir: string): string {
  const find = () => readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  let r = sh("apt-get", ["download", pkg], dir);
  if (!r.ok || !find()) {
    log(`apt-get download ${pkg} failed, running apt-get update: ${r.out.trim().split("\n").at(-1)}`);
    sh("apt-get", ["update"]);
    r = sh("apt-get", ["download", pkg], dir);
  }
  const deb = find();
  if (!r.ok || !deb) throw new Error(`apt-get download ${pkg} failed:\n${r.out}`);
  return join(dir, deb);
}

/** linux-image-amd64 is a metapackage: the concrete linux-image-6.1.0-N-amd64 it depends on. */
function resolveKernelPackage(): string {
  const pick = () => /Depends:\s*(linux-image-[0-9][\w.+-]*-amd64)\b/.exec(sh("apt-cache", ["depends", "linux-image-amd64"]).out)?.[1];
  let pkg = pick();
  if (!pkg) {
    sh("apt-get", ["update"]);
    pkg = pick();
  }
  if (!pkg) throw new Error("apt-cache depends linux-image-amd64 names no linux-image-*-amd64 package");
  return pkg;
}

/** Extracts the files whose tar names match `pattern` ("./boot/vmlinuz-*") from a .deb into dir. */
function debExtract(deb: string, pattern: string, dir: string): void {
  const tar = execFileSync("dpkg-deb", ["--fsys-tarfile", deb], { maxBuffer: 1 << 30 });
  execFileSync("tar", ["-xf", "-", "--wildcards", pattern], { cwd: dir, input: tar });
}

// Compression formats a bzImage payload may use: magic, Debian package, command.
const DECOMPRESSORS: { name: string; magic: number[]; pkg: string; cmd: string[]; sizeSuffix: boolean }[] = [
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], pkg: "xz-utils", cmd: ["xz", "-dc", "--single-stream"], sizeSuffix: true },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd], pkg: "zstd", cmd: ["zstd", "-dc"], sizeSuffix: true },
  { name: "lz4", magic: [0x02, 0x21, 0x4c, 0x18], pkg: "lz4", cmd: ["lz4", "-dc"], sizeSuffix: true },
  { name: "gzip", magic: [0x1f, 0x8b], pkg: "gzip", cmd: ["gzip", "-dc"], sizeSuffix: false },
  { name: "bzip2", magic: [0x42, 0x5a, 0x68], pkg: "bzip2", cmd: ["bzip2", "-dc"], sizeSuffix: true },
  { name: "lzma", magic: [0x5d, 0x00, 0x00], pkg: "xz-utils", cmd: ["xz", "-dc", "--format=lzma"], sizeSuffix: true },
];

/**
 * The uncompressed vmlinux inside a bzImage (what the kernel's own
 * scripts/extract-vmlinux does, but located through the setup header
 * instead of a magic scan): boot protocol >= 2.08 gives the payload's
 * offset (from the end of the real-mode setup) and length. Every format but
 * gzip carries the uncompressed size as 4 trailing bytes (gzip's own trailer
 * holds it), which doubles as a check.
 */
export function extractVmlinux(bz: Buffer): Buffer {
  if (bz.length < 0x250 || bz.toString("latin1", 0x202, 0x206) !== "HdrS") throw new Error("not a bzImage (no HdrS)");
  const version = bz.readUInt16LE(0x206);
  if (version < 0x208) throw new Error(`boot protocol ${version.toString(16)} has no payload fields`);
  const setupSects = bz[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + bz.readUInt32LE(0x248);
  const len = bz.readUInt32LE(0x24c);
  if (start + len > bz.length || len < 8) throw new Error("bzImage payload outside the file");
  const payload = bz.subarray(start, start + len);
  const d = DECOMPRESSORS.find((c) => c.magic.every((b, i) => payload[i] === b));
  if (!d) throw new Error(`unknown bzImage payload compression (magic ${payload.subarray(0, 6).toString("hex")})`);
  const want = payload.readUInt32LE(len - 4);
  if (sh("sh", ["-c", `command -v ${d.cmd[0]}`]).ok === false) {
    log(`installing ${d.pkg} for ${d.cmd[0]}`);
    sh("apt-get", ["install", "-y", d.pkg]);
  }
  const input = d.sizeSuffix ? payload.subarray(0, len - 4) : payload;
  const r = spawnSync(d.cmd[0]!, d.cmd.slice(1), { input, maxBuffer: 1 << 30 });
  const out = r.stdout;
  // gzip exits 2 on "trailing garbage ignored" (alignment padding): judge by the result.
  if (!out || out.length !== want || out.toString("latin1", 0, 4) !== "\x7fELF")
    throw new Error(`${d.name} payload: ${r.stderr?.toString().trim() || "bad output"} (got ${out?.length ?? 0} bytes, want ${want})`);
  return out;
}

export interface DebianKernel {
  pkg: string;
  vmlinuz: string;
  vmlinux: string;
}

/** The newest stock kernel, downloaded and unpacked once. */
export function debianKernel(): DebianKernel {
  mkdirSync(CACHE, { recursive: true });
  const pkg = resolveKernelPackage();
  const dir = join(CACHE, pkg);
  const vmlinuz = join(dir, "vmlinuz");
  const vmlinux = join(dir, "vmlinux");
  if (existsSync(vmlinuz) && existsSync(vmlinux)) return { pkg, vmlinuz, vmlinux };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`downloading ${pkg} (apt-get download)`);
  const deb = aptDownload(pkg, dir);
  debExtract(deb, "./boot/vmlinuz-*", dir);
  const boot = join(dir, "boot");
  const img = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  if (!img) throw new Error(`${deb} has no /boot/vmlinuz-*`);
  const bz = readFileSync(join(boot, img));
  writeFileSync(`${vmlinux}.tmp`, extractVmlinux(bz));
  renameSync(`${vmlinux}.tmp`, vmlinux);
  writeFileSync(vmlinuz, bz);
  rmSync(boot, { recursive: true, force: true });
  rmSync(deb);  // 70 MB we no longer need
  return { pkg, vmlinuz, vmlinux };
}

// ---- initramfs (written with the product's own newc cpio writer) ----

export const USERSPACE_MARKER = "userspace-ok";

/**
 * A cpio with Debian's static busybox and an /init that mounts proc, prints
 * USERSPACE_MARKER and powers off (ACPI S5 through our PM device).
 * /dev/console is in the archive because an initramfs has no devtmpfs yet:
 * without it init would run without stdout.
 */
export function busyboxInitramfs(): string {
  const dir = join(CACHE, "busybox");
  const out = join(dir, "initramfs.cpio");
  if (existsSync(out)) return out;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log("downloading busybox-static (apt-get download)");
  const deb = aptDownload("busybox-static", dir);
  debExtract(deb, "./bin/busybox", dir);
  const busybox = readFileSync(join(dir, "bin", "busybox"));
  const init = [
    "#!/bin/busybox sh",
    "/bin/busybox mount -t proc proc /proc",
    `/bin/busybox echo "${USERSPACE_MARKER} $(/bin/busybox cat /proc/sys/kernel/osrelease)"`,
    "/bin/busybox poweroff -f",
    "",
  ].join("\n");
  const cpio = cpioNewc([
    { type: "dir", name: "bin" },
    { type: "file", name: "bin/busybox", mode: 0o755, data: busybox },
    { type: "dir", name: "dev" },
    { type: "chardev", name: "dev/console", mode: 0o600, major: 5, minor: 1 },
    { type: "dir", name: "proc" },
    { type: "file", name: "init", mode: 0o755, data: Buffer.from(init) },
  ]);
  writeFileSync(`${out}.tmp`, cpio);
  renameSync(`${out}.tmp`, out);
  rmSync(join(dir, "bin"), { recursive: true, force: true });
  rmSync(deb);
  return out;
}

/** Hardware virtualization: VT-x/AMD-V in /proc/cpuinfo and KVM not the PVM module. */
export function hardwareKvm(): { ok: boolean; why: string } {
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    /* not Linux */
  }
  if (existsSync("/sys/module/kvm_pvm"))
    return { ok: false, why: "host KVM is kvm_pvm: guest kernel code is emulated and stock Linux stops in early boot" };
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(flags)) return { ok: false, why: "no vmx/svm in /proc/cpuinfo (no hardware virtualization)" };
  return { ok: true, why: "" };
}
