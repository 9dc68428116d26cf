// Integration tests: the project's test guest (native/guest) booted through
// the addon and through `npm run vm` (scripts/vm.mjs), on real /dev/kvm.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadNative, type NativeVm, type VmExit } from "./native";
import { kvmUsable, prepareVmTests, removeTmp, ROOT, runCli, SerialLog } from "./testing";

const canRun = kvmUsable();
let guest = "";
let tmp = "";

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests("vmtest-", "bundles"));
}, 600_000);

afterAll(() => removeTmp(tmp));

interface Session {
  vm: NativeVm;
  serial: SerialLog;
  exit: Promise<VmExit>;
  send: (s: string) => void;
}

function boot(opts: { vcpus?: number; memoryMiB?: number; disks?: { path: string; readonly?: boolean }[] } = {}): Session {
  const Vm = loadNative();
  const vm = new Vm({
    memoryMiB: opts.memoryMiB ?? 64,
    vcpus: opts.vcpus ?? 1,
    kernel: guest,
    disks: opts.disks ?? [],
  });
  const serial = new SerialLog();
  vm.onSerial((d) => serial.push(d));
  const exit = new Promise<VmExit>((res) => vm.onExit(res));
  vm.start();
  return {
    vm,
    serial,
    exit,
    send: (s) => {
      const b = Buffer.from(s);
      let off = 0;
      // The UART takes what fits; the rest is retried (tests send little).
      const push = () => {
        off += vm.writeSerial(b.subarray(off));
        if (off < b.length) setTimeout(push, 5);
      };
      push();
    },
  };
}

// Set-1 make codes (QEMU qnum numbering) for the keyEvent test.
const QNUM: Record<string, number> = {
  e: 0x12, c: 0x2e, h: 0x23, o: 0x18, k: 0x25, b: 0x30, d: 0x20, " ": 0x39, "\n": 0x1c,
};

describe.skipIf(!canRun)("VM through the addon", () => {
  it("boots with 1 vCPU, echoes over COM1 and powers off", async () => {
    const s = boot({ vcpus: 1 });
    await s.serial.wait(/guest ready vcpus=1 /);
    const at = s.serial.text.length;
    s.send("echo hello\n");
    await s.serial.wait(/\nhello\r?\n/, 10_000, at);
    s.send("poweroff\n");
    const e = await s.exit;
    expect(e.reason).toBe("poweroff");
  }, 60_000);

  it("boots with 2 vCPUs and reboot ends the VM with reason reset", async () => {
    const s = boot({ vcpus: 2 });
    await s.serial.wait(/guest ready vcpus=2 /);
    const st = s.vm.stats();
    expect(st.vcpus.length).toBe(2);
    expect(st.vcpus[0]!.exits).toBeGreaterThan(0);
    s.send("reboot\n");
    const e = await s.exit;
    expect(e.reason).toBe("reset");
  }, 60_000);

  it("draw: framebuffer pixels follow the guest's pattern, dirty rows cover the screen", async () => {
    const s = boot();
    await s.serial.wait(/guest ready/);
    s.vm.collectDirty(); // forget everything before the pattern
    const at = s.serial.text.length;
    s.send("draw\n");
    await s.serial.wait(/draw checksum=[0-9a-f]+/, 30_000, at);
    const info = s.vm.framebufferInfo()!;
    expect(info.enabled).toBe(true);
    const fb = new Uint32Array(s.vm.framebuffer()!);
    const { width: w, height: h } = info;
    const px = (x: number, y: number) => fb[(y * info.stride) / 4 + x];
    const want = (x: number, y: number) =>
      ((Math.floor((x * 255) / (w - 1)) << 16) | (Math.floor((y * 255) / (h - 1)) << 8) | ((x ^ y) & 0xff)) >>> 0;
    for (const [x, y] of [
      [0, 0],
      [w - 1, 0],
      [0, h - 1],
      [w - 1, h - 1],
      [w >> 1, h >> 1],
      [123, 45],
    ] as const) {
      expect(px(x, y)! & 0xffffff).toBe(want(x, y));
    }
    const dirty = s.vm.collectDirty();
    expect(dirty.length).toBeGreaterThanOrEqual(2);
    expect(dirty[0]).toBe(0);
    expect(dirty[dirty.length - 1]).toBe(h);
    s.vm.stop();
    expect((await s.exit).reason).toBe("stopped");
  }, 90_000);

  it("keyEvent injection types into the guest shell", async () => {
    const s = boot();
    await s.serial.wait(/guest ready/);
    const at = s.serial.text.length;
    for (const ch of "echo kbd\n") {
      s.vm.keyEvent(QNUM[ch]!, true);
      s.vm.keyEvent(QNUM[ch]!, false);
    }
    await s.serial.wait(/\nkbd\r?\n/, 10_000, at);
    // Pointer events go to the virtio tablet and must not disturb the VM.
    for (let i = 0; i < 50; i++) s.vm.pointerEvent(i * 10, i * 7, i & 1, i % 5 === 0 ? 1 : 0);
    const at2 = s.serial.text.length;
    s.send("echo still-alive\n");
    await s.serial.wait(/\nstill-alive\r?\n/, 10_000, at2);
    s.vm.stop();
    expect((await s.exit).reason).toBe("stopped");
  }, 60_000);

  it("without a tablet, pointer events become PS/2 mouse motion", async () => {
    const Vm = loadNative();
    const vm = new Vm({ memoryMiB: 64, vcpus: 1, kernel: guest, tablet: false });
    const serial = new SerialLog();
    vm.onSerial((d) => serial.push(d));
    const exit = new Promise<VmExit>((res) => vm.onExit(res));
    vm.start();
    await serial.wait(/guest ready/);
    for (let i = 0; i < 20; i++) vm.pointerEvent(500 - i * 20, i * 30, 1, -1);
    vm.writeSerial(Buffer.from("echo mouse-ok\n"));
    await serial.wait(/\nmouse-ok\r?\n/);
    vm.stop();
    expect((await exit).reason).toBe("stopped");
  }, 60_000);

  it("bad config: too little memory, missing kernel, corrupt kernel are one-line errors", () => {
    const Vm = loadNative();
    expect(() => new Vm({ memoryMiB: 4, vcpus: 1, kernel: guest })).toThrow(/memory .* too little/);
    expect(() => new Vm({ memoryMiB: 64, vcpus: 1, kernel: "/nonexistent/kernel" })).toThrow(/kernel/);
    expect(() => new Vm({ memoryMiB: 64, vcpus: 1, kernel: Buffer.from("not a kernel at all") })).toThrow(/kernel/);
  });
});

describe.skipIf(!canRun)("VM through npm run vm (scripts/vm.mjs)", () => {
  it("boots, echoes, and exits 0 on poweroff", async () => {
    const r = runCli(["--kernel", guest, "--memory", "64", "--vcpus", "2"]);
    await r.serial.wait(/guest ready vcpus=2 /);
    r.send("echo hello\n");
    await r.serial.wait(/\nhello\r?\n/);
    r.send("poweroff\n");
    expect(await r.exit).toBe(0);
    expect(r.stderr()).toMatch(/vm: poweroff/);
  }, 60_000);

  it("reboot exits with the reset code", async () => {
    const r = runCli(["--kernel", guest, "--memory", "64"]);
    await r.serial.wait(/guest ready/);
    r.send("reboot\n");
    expect(await r.exit).toBe(10);
    expect(r.stderr()).toMatch(/vm: reset/);
  }, 60_000);

  it("the disk boot counter persists across runs; a read-only disk refuses writes", async () => {
    const disk = join(tmp, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 1 << 20);
    for (const n of [1, 2]) {
      const r = runCli(["--kernel", guest, "--memory", "64", "--disk", disk]);
      await r.serial.wait(new RegExp(`guest ready .*boots=${n}\\b`));
      r.send("poweroff\n");
      expect(await r.exit).toBe(0);
    }
    const before = readFileSync(disk);
    const r = runCli(["--kernel", guest, "--memory", "64", "--disk", `${disk},ro`]);
    await r.serial.wait(/disk: write failed/);
    await r.serial.wait(/guest ready .*boots=2\b/);
    r.send("poweroff\n");
    expect(await r.exit).toBe(0);
    expect(readFileSync(disk).equals(before)).toBe(true);
  }, 120_000);

  it("corrupt kernel file: one clear line, exit 2", async () => {
    const bad = join(tmp, "bad-kernel");
    writeFileSync(bad, Buffer.alloc(4096, 0x5a));
    const r = runCli(["--kernel", bad]);
    expect(await r.exit).toBe(2);
    const lines = r.stderr().trim().split("\n").filter((l) => !l.startsWith("note:") && !l.startsWith("vm: bundling"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^error: .*kernel/);
  }, 60_000);

  it("bad arguments: one line, exit 2", async () => {
    for (const args of [["--memory", "64"], ["--kernel", guest, "--memory", "4"], ["--kernel", guest, "--frobnicate"]]) {
      const r = runCli(args);
      expect(await r.exit).toBe(2);
      expect(r.stderr().trim().split("\n").filter((l) => l.startsWith("error:")).length).toBe(1);
    }
  }, 60_000);

  it("serial on a unix socket replays the boot log to a late client; control socket answers", async () => {
    const sock = join(tmp, "serial.sock");
    const ctl = join(tmp, "control.sock");
    const r = runCli(["--kernel", guest, "--memory", "64", "--serial", `unix:${sock}`, "--control", `unix:${ctl}`]);
    // Wait for the guest to be up before attaching: the replay must carry it.
    const status = async (): Promise<{ stats: { vcpus: { exits: number }[] } }> =>
      new Promise((res, rej) => {
        const c = connect(ctl);
        let buf = "";
        c.on("error", rej);
        c.on("data", (d) => {
          buf += d.toString();
          if (buf.includes("\n")) {
            c.end();
            res(JSON.parse(buf));
          }
        });
        c.write('{"cmd":"status"}\n');
      });
    let st;
    for (let i = 0; i < 100 && !st; i++) {
      await new Promise((res) => setTimeout(res, 50));
      st = await status().catch(() => undefined);
    }
    expect(st!.stats.vcpus.length).toBe(1);
    await new Promise((res) => setTimeout(res, 300));
    const log = new SerialLog();
    const c = connect(sock);
    c.on("data", (d) => log.push(d));
    await log.wait(/guest ready/);
    c.write("poweroff\n");
    expect(await r.exit).toBe(0);
    c.destroy();
  }, 60_000);
});

const tapOk = canRun && process.getuid?.() === 0 && spawnSync("test", ["-c", "/dev/net/tun"]).status === 0 &&
  spawnSync("ip", ["-V"]).status === 0 && spawnSync("python3", ["-c", "import socket; socket.AF_PACKET"]).status === 0;

describe.skipIf(!tapOk)("virtio-net over TAP", () => {
  it("guest hello reaches the host and a host frame is echoed back", async () => {
    const tap = `kvmt${process.pid % 100000}`;
    const mac = "52:54:00:12:34:56";
    const ip = (...a: string[]) => spawnSync("ip", a, { stdio: "ignore" }).status;
    expect(ip("tuntap", "add", "dev", tap, "mode", "tap")).toBe(0);
    try {
      expect(ip("link", "set", "dev", tap, "up")).toBe(0);
      const r = runCli(["--kernel", guest, "--memory", "64", "--net", `tap:${tap},mac=${mac}`]);
      await r.serial.wait(/guest ready/);
      const probe = spawn("python3", [join(ROOT, "server", "vm", "tap-probe.py"), tap, mac], { stdio: ["ignore", "pipe", "inherit"] });
      const plog = new SerialLog();
      probe.stdout.on("data", (d: Buffer) => plog.push(d));
      const probeExit = new Promise<number | null>((res) => probe.on("exit", res));
      await plog.wait(/listening/);
      r.send("net\n");
      await r.serial.wait(/net: sent/);
      expect(await probeExit).toBe(0);
      expect(plog.text).toMatch(/hello-ok\necho-ok/);
      r.send("poweroff\n");
      expect(await r.exit).toBe(0);
    } finally {
      ip("link", "del", tap);
    }
  }, 60_000);
});
