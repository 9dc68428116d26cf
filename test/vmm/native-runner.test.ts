// The C++ VM runner prototype (native/src/runner, `make -C native runner`):
// the same scenarios server/vm/vm.test.ts runs against `npm run vm`, so the
// two stay interchangeable (flags, serial + control sockets, stderr lines,
// exit codes of config.ts EXIT_CODES).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EXIT_CODES } from "../../server/vm/config";
import { kvmUsable, prepareVmTests, removeTmp, ROOT, SerialLog } from "../../server/vm/testing";

const canRun = kvmUsable();
const RUNNER = join(ROOT, "native", "build", "kvmvmm-runner");
let guest = "";
let tmp = "";

beforeAll(() => {
  if (canRun) ({ guest, tmp } = prepareVmTests("runnertest-", "native-runner"));
}, 600_000);

afterAll(() => removeTmp(tmp));

function run(args: string[]) {
  const child = spawn(RUNNER, args, { stdio: ["pipe", "pipe", "pipe"] });
  const serial = new SerialLog();
  let err = "";
  child.stdout.on("data", (d: Buffer) => serial.push(d));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  return { child, serial, exit, stderr: () => err, send: (s: string) => child.stdin.write(s) };
}

function control(path: string, cmd: object): Promise<Record<string, unknown>> {
  return new Promise((res, rej) => {
    const c = connect(path);
    let buf = "";
    c.on("error", rej);
    c.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\n")) {
        c.end();
        res(JSON.parse(buf) as Record<string, unknown>);
      }
    });
    c.write(JSON.stringify(cmd) + "\n");
  });
}

describe.skipIf(!canRun)("native VM runner (kvmvmm-runner)", () => {
  it("boots with 2 vCPUs, echoes, exits 0 on poweroff", async () => {
    const r = run(["--kernel", guest, "--memory", "64", "--vcpus", "2"]);
    await r.serial.wait(/guest ready vcpus=2 /);
    r.send("echo hello\n");
    await r.serial.wait(/\nhello\r?\n/);
    r.send("poweroff\n");
    expect(await r.exit).toBe(EXIT_CODES.poweroff);
    expect(r.stderr()).toMatch(/^vm: poweroff: /m);
  });

  it("reboot exits 10, SIGTERM exits 15", async () => {
    const a = run(["--kernel", guest, "--memory", "64"]);
    await a.serial.wait(/guest ready/);
    a.send("reboot\n");
    expect(await a.exit).toBe(EXIT_CODES.reset);
    const b = run(["--kernel", guest, "--memory", "64"]);
    await b.serial.wait(/guest ready/);
    b.child.kill("SIGTERM");
    expect(await b.exit).toBe(EXIT_CODES.stopped);
    expect(b.stderr()).toMatch(/^vm: stopped: /m);
  });

  it("disk boot counter; read-only disk refuses writes", async () => {
    const disk = join(tmp, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 1 << 20);
    const a = run(["--kernel", guest, "--memory", "64", "--disk", disk]);
    await a.serial.wait(/guest ready .*boots=1\b/);
    a.send("poweroff\n");
    expect(await a.exit).toBe(0);
    const before = readFileSync(disk);
    const b = run(["--kernel", guest, "--memory", "64", `--disk=${disk},ro`]);
    await b.serial.wait(/disk: write failed/);
    await b.serial.wait(/guest ready .*boots=1\b/);
    b.send("poweroff\n");
    expect(await b.exit).toBe(0);
    expect(readFileSync(disk).equals(before)).toBe(true);
  });

  it("bad arguments and a corrupt kernel: one error line, exit 2", async () => {
    const bad = join(tmp, "bad-kernel");
    writeFileSync(bad, Buffer.alloc(4096, 0x5a));
    for (const args of [["--memory", "64"], ["--kernel", guest, "--memory", "4"], ["--kernel", guest, "--frobnicate"], ["--kernel", bad]]) {
      const r = run(args);
      expect(await r.exit).toBe(EXIT_CODES.usage);
      const lines = r.stderr().trim().split("\n").filter((l) => !l.startsWith("note:"));
      expect(lines, r.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
    }
  });

  it("serial socket replays the boot log; VNC greets; control socket: status, errors, stop", async () => {
    const sock = join(tmp, "serial.sock");
    const ctl = join(tmp, "control.sock");
    const vnc = join(tmp, "vnc.sock");
    const pid = join(tmp, "vm.pid");
    const r = run(["--kernel", guest, "--memory", "64", "--serial", `unix:${sock}`, "--control", `unix:${ctl}`, "--pid-file", pid,
      "--vnc", `unix:${vnc}`]);
    let st: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !st; i++) {
      await new Promise((res) => setTimeout(res, 50));
      st = await control(ctl, { cmd: "status" }).catch(() => undefined);
    }
    expect(st).toMatchObject({ ok: true, state: "running", exit: null, pid: r.child.pid });
    expect((st!.stats as { vcpus: unknown[] }).vcpus).toHaveLength(1);
    expect(readFileSync(pid, "utf8").trim()).toBe(String(r.child.pid));
    expect(await control(ctl, { cmd: "frobnicate" })).toEqual({ ok: false, error: "unknown cmd" });
    const greeting = await new Promise<string>((res, rej) => {
      const v = connect(vnc);
      v.on("error", rej);
      v.once("data", (d) => {
        v.destroy();
        res(d.toString("latin1"));
      });
    });
    expect(greeting).toMatch(/^RFB 003\.00[38]\n/);
    expect((await control(ctl, { cmd: "status" })).vnc).toMatchObject({ accepted: 1 });
    await new Promise((res) => setTimeout(res, 300));
    const log = new SerialLog();
    const c = connect(sock);
    c.on("data", (d) => log.push(d));
    await log.wait(/guest ready/);
    const at = log.text.length;
    c.write("echo via-socket\n");
    await log.wait(/via-socket\r?\n/, 10_000, at);
    expect(await control(ctl, { cmd: "stop" })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.stopped);
    c.destroy();
    expect(spawnSync("test", ["-e", pid]).status).not.toBe(0);  // pid file removed
  });

  it("CONFIG.json as the agent writes it (server/agent/local.ts); a bad one is one error line, exit 2", async () => {
    const disk = join(tmp, "cfg-disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 1 << 20);
    const ctl = join(tmp, "cfg-control.sock");
    const cfg = join(tmp, "vm.json");
    const config = {
      id: "vm1", name: "test", memoryMiB: 64, vcpus: 2, kernel: guest, cmdline: "",
      disks: [{ path: disk }], serial: "stdio", control: `unix:${ctl}`, pidFile: join(tmp, "cfg.pid"),
    };
    writeFileSync(cfg, JSON.stringify(config, null, 2));
    const r = run([cfg]);
    await r.serial.wait(/guest ready vcpus=2 memory=64 boots=1\b/);
    expect(await control(ctl, { cmd: "stop" })).toEqual({ ok: true });
    expect(await r.exit).toBe(EXIT_CODES.stopped);

    for (const bad of ["{", JSON.stringify({ ...config, memoryMiB: 4 }), JSON.stringify({ ...config, disks: [{}] }), JSON.stringify({ ...config, kernel: 5 })]) {
      writeFileSync(cfg, bad);
      const b = run([cfg]);
      expect(await b.exit).toBe(EXIT_CODES.usage);
      const lines = b.stderr().trim().split("\n").filter((l) => !l.startsWith("note:"));
      expect(lines, b.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: config/);
    }
  });
});
