// Debian's stock kernel (linux-image-amd64) on our VMM, through `npm run vm`.
//
// Early boot, every host: `Linux version`, the BIOS-e820 lines (must equal the
// map native/src/boot builds for this RAM size) and `Kernel command line:`
// must arrive on COM1.
//
// Why the uncompressed vmlinux through PVH and not the bzImage: on a PVM host
// (the project's machines) every guest kernel-mode instruction is emulated.
// Booted as the bzImage, the kernel's own decompressor had not printed
// `Linux version` after 240 s (measured 2026-11-24); the vmlinux taken out of
// that same bzImage (debian-kernel.ts) prints the command line after ~25 s of
// guest time, 50-65 s wall here with the two cores shared. It still dies
// later (`lock cmpxchg16b`, which PVM's emulator lacks); we do not mask CX16
// in CPUID for that: hardware hosts run it natively and some guests require
// it (64-bit Windows since 8.1), so it would be a PVM hack in the generic path.
//
// Userspace, hardware KVM hosts only: the same kernel (as the bzImage) with a
// busybox initramfs runs /init, which prints a marker and powers off. On a PVM host
// the kernel cannot get there (it dies on instructions PVM's emulator lacks,
// see /work/shared/notes/kvm-on-these-machines.md), so that case is skipped
// with the reason printed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

import { loadNative, type E820Entry } from "../../server/vm/native";
import { kvmUsable, ROOT, runCli, type CliRun } from "../../server/vm/testing";
import { busyboxInitramfs, debianKernel, hardwareKvm, USERSPACE_MARKER, type DebianKernel } from "./debian-kernel";

const canRun = kvmUsable();
const MEMORY_MIB = 256;
const CMDLINE = "console=ttyS0 earlyprintk=serial";
const E820_TYPES: Record<string, number> = { usable: 1, reserved: 2, "ACPI data": 3, "ACPI NVS": 4 };

let kernel: DebianKernel;
const running = new Set<CliRun>();

beforeAll(() => {
  if (!canRun) return;
  const b = spawnSync(process.execPath, [join(ROOT, "scripts", "vm.mjs"), "--build-only"], { cwd: ROOT, stdio: "inherit" });
  if (b.status !== 0) throw new Error("building the VMM failed");
  kernel = debianKernel();
}, 300_000);

afterAll(() => {
  for (const r of running) r.kill();
});

function vm(args: string[]): CliRun {
  const r = runCli(args);
  running.add(r);
  void r.exit.then(() => running.delete(r));
  return r;
}

function parseE820(text: string): E820Entry[] {
  const out: E820Entry[] = [];
  for (const m of text.matchAll(/BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] ([A-Za-z ]+?)\r?\n/g)) {
    const start = Number.parseInt(m[1]!, 16);
    const end = Number.parseInt(m[2]!, 16);
    out.push({ addr: start, size: end - start + 1, type: E820_TYPES[m[3]!] ?? -1 });
  }
  return out;
}

describe.skipIf(!canRun)("Debian stock kernel on our VMM", () => {
  it("early boot: Linux version, our e820 map and the command line on COM1", async () => {
    const t0 = performance.now();
    const r = vm(["--kernel", kernel.vmlinux, "--memory", String(MEMORY_MIB), "--framebuffer", "none", "--cmdline", CMDLINE]);
    const version = await r.serial.wait(/Linux version (\S+) /, 60_000);
    const cmd = await r.serial.wait(/Kernel command line: ([^\r\n]*)\r?\n/, 170_000);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    r.child.kill("SIGTERM");
    const code = await r.exit;
    process.stderr.write(`linux-test: ${kernel.pkg} (${version[1]}): command line after ${seconds} s, exit ${code}\n`);

    expect(cmd[1]!.trim()).toBe(CMDLINE);
    const want = loadNative().e820(MEMORY_MIB);
    expect(want.length).toBeGreaterThan(0);
    expect(parseE820(r.serial.text)).toEqual(want);
    // SIGTERM -> stopped (15); a guest that died first says why on stderr.
    expect([15, 12], r.stderr()).toContain(code);
  }, 180_000);

  it("userspace: busybox initramfs prints its marker and powers off (hardware KVM only)", async (ctx) => {
    const hw = hardwareKvm();
    if (!hw.ok) {
      process.stderr.write(`linux-test: skipping the userspace boot: ${hw.why}\n`);
      ctx.skip();
      return;
    }
    const initrd = busyboxInitramfs();
    // The bzImage here: on hardware KVM its decompressor runs natively, so
    // this also covers the Linux boot protocol (boot_params, initrd) path.
    const r = vm([
      "--kernel", kernel.vmlinuz, "--initrd", initrd, "--memory", String(MEMORY_MIB), "--framebuffer", "none",
      "--cmdline", "console=ttyS0 panic=-1 quiet",
    ]);
    await r.serial.wait(new RegExp(USERSPACE_MARKER), 60_000);
    expect(await r.exit, r.stderr()).toBe(0);  // ACPI S5 from busybox poweroff
  }, 120_000);
});
