// The VM process: one per VM. `node native/build/runner.mjs CONFIG.json`
// (bundled from this file) or through `npm run vm` (cli.ts).
//
// Exit: one line on stderr naming the reason, and a distinct exit code per
// reason (config.ts EXIT_CODES).
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

import { EXIT_CODES, parseRunConfig, SERIAL_RING_BYTES, type VmRunConfig } from "./config";
import { loadNative, type NativeVm, type VmExit } from "./native";
import { OutputRing, SerialInput, SerialSocketHub } from "./serial";

export class UsageError extends Error {}

function line(msg: string): void {
  process.stderr.write(msg.replace(/\s*\n\s*/g, " ") + "\n");
}

/** Prints one line and exits with `code`, after stdout has drained. */
function finish(code: number, msg?: string): void {
  if (msg) line(msg);
  const out = process.stdout;
  if (out.writableLength > 0) out.once("drain", () => process.exit(code));
  else process.exit(code);
  setTimeout(() => process.exit(code), 2000).unref();
}

// KVMVMM_TIMING=1: milestones (ms since process start) on stderr.
const timing = !!process.env.KVMVMM_TIMING;
function mark(what: string): void {
  if (timing) line(`timing: ${what} ${performance.now().toFixed(1)} ms`);
}

function unixPath(spec: string): string {
  return spec.slice("unix:".length);
}

export function runVm(cfg: VmRunConfig): void {
  mark("config parsed");
  process.title = `kvmpanel-vm ${cfg.name ?? cfg.id ?? "vm"}`;
  let Vm;
  try {
    Vm = loadNative();
  } catch (e) {
    finish(EXIT_CODES.failure, `error: ${(e as Error).message}`);
    return;
  }
  mark("addon loaded");
  if (Vm.isPvmHost()) line(`note: ${Vm.pvmNotice()}`);

  let vm: NativeVm;
  try {
    vm = new Vm({
      memoryMiB: cfg.memoryMiB,
      vcpus: cfg.vcpus,
      kernel: cfg.kernel,
      initrd: cfg.initrd,
      cmdline: cfg.cmdline,
      disks: cfg.disks,
      net: cfg.net,
      framebuffer: cfg.framebuffer,
    });
  } catch (e) {
    finish(EXIT_CODES.usage, `error: ${(e as Error).message}`);
    return;
  }

  mark("vm created");
  const cleanups: (() => void)[] = [];
  let exited: VmExit | null = null;

  // ---- serial ----
  const ring = new OutputRing(SERIAL_RING_BYTES);
  let hub: SerialSocketHub | undefined;
  let ttyRaw = false;
  const stdin = process.stdin;
  const input = new SerialInput(
    (b) => vm.writeSerial(b),
    (blocked) => {
      if (hub) hub.setPaused(blocked);
      else if (cfg.serial === "stdio") {
        if (blocked) stdin.pause();
        else stdin.resume();
      }
    },
  );
  vm.onSerialSpace(() => input.flush());

  if (cfg.serial === "stdio") {
    vm.onSerial((d) => {
      ring.push(d);
      process.stdout.write(d);
    });
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      ttyRaw = true;
      cleanups.push(() => stdin.setRawMode(false));
      line("serial: this terminal is COM1 (Ctrl-A x quits)");
    }
    let sawCtrlA = false;
    stdin.on("data", (d: Buffer) => {
      if (ttyRaw) {
        // Ctrl-A x: leave, as in QEMU's -nographic; Ctrl-A Ctrl-A sends one Ctrl-A.
        const out: number[] = [];
        for (const b of d) {
          if (sawCtrlA) {
            sawCtrlA = false;
            if (b === 0x78 /* x */) {
              vm.stop();
              return;
            }
            out.push(b);
          } else if (b === 0x01) sawCtrlA = true;
          else out.push(b);
        }
        if (out.length) input.push(Buffer.from(out));
      } else input.push(d);
    });
    stdin.on("error", () => {});
  } else if (cfg.serial.startsWith("unix:")) {
    hub = new SerialSocketHub(unixPath(cfg.serial), ring, (d) => input.push(d));
    const h = hub;
    vm.onSerial((d) => {
      ring.push(d);
      h.output(d);
    });
    h.listen().catch((e: Error) => {
      line(`error: serial socket ${h.path}: ${e.message}`);
      vm.stop();
    });
    cleanups.push(() => h.close());
  } else {
    vm.onSerial((d) => ring.push(d));
  }

  // ---- VNC (rfb): the RFB server runs in the addon, on its own thread ----
  if (cfg.vnc) {
    const vncPath = unixPath(cfg.vnc);
    try {
      vm.startVnc(vncPath, cfg.name ?? cfg.id ?? "vm");
      cleanups.push(() => vm.stopVnc());
    } catch (e) {
      finish(EXIT_CODES.usage, `error: ${(e as Error).message}`);
      return;
    }
  }

  // ---- control socket (JSON lines) ----
  if (cfg.control) {
    const path = unixPath(cfg.control);
    try {
      unlinkSync(path);
    } catch {
      /* none */
    }
    const server: Server = createServer((sock) => {
      let buf = "";
      sock.setEncoding("utf8");
      sock.on("error", () => sock.destroy());
      sock.on("data", (chunk: string) => {
        buf += chunk;
        if (buf.length > 65536) return sock.destroy();
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text.trim()) sock.write(JSON.stringify(control(text)) + "\n");
        }
      });
    });
    server.listen(path);
    cleanups.push(() => {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
    });
  }

  function control(text: string): unknown {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { ok: false, error: "bad JSON" };
    }
    const num = (k: string) => (typeof msg[k] === "number" ? (msg[k] as number) : 0);
    switch (msg.cmd) {
      case "status":
        return {
          ok: true,
          state: exited ? "exited" : "running",
          exit: exited,
          pid: process.pid,
          framebuffer: vm.framebufferInfo(),
          stats: vm.stats(),
          vnc: vm.vncStats(), // rfb
          rssBytes: process.memoryUsage.rss(),
        };
      case "stop":
        vm.stop();
        return { ok: true };
      case "key":
        vm.keyEvent(num("qnum"), msg.down === true);
        return { ok: true };
      case "pointer":
        vm.pointerEvent(num("x"), num("y"), num("buttons"), num("wheel"));
        return { ok: true };
      default:
        return { ok: false, error: "unknown cmd" };
    }
  }

  if (cfg.pidFile) {
    const pf = cfg.pidFile;
    writeFileSync(pf, `${process.pid}\n`);
    cleanups.push(() => {
      try {
        unlinkSync(pf);
      } catch {
        /* gone */
      }
    });
  }

  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => vm.stop());

  vm.onExit((e) => {
    exited = e;
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        /* best effort */
      }
    }
    stdin.pause();
    const code = EXIT_CODES[e.reason] ?? EXIT_CODES.failure;
    finish(code, `vm: ${e.reason}: ${e.message}`);
  });

  if (timing) {
    let first = true;
    vm.onSerial((d) => {
      if (first) mark("first serial output");
      first = false;
      ring.push(d);
      if (cfg.serial === "stdio") process.stdout.write(d);
      else hub?.output(d);
    });
  }
  mark("runner ready");
  try {
    vm.start();
  } catch (e) {
    finish(EXIT_CODES.failure, `error: ${(e as Error).message}`);
  }
}

export function runnerMain(argv: string[]): void {
  const file = argv[0];
  if (!file || argv.length !== 1) {
    finish(EXIT_CODES.usage, "usage: runner CONFIG.json");
    return;
  }
  let cfg: VmRunConfig;
  try {
    cfg = parseRunConfig(JSON.parse(readFileSync(file, "utf8")));
  } catch (e) {
    finish(EXIT_CODES.usage, `error: ${(e as Error).message}`);
    return;
  }
  runVm(cfg);
}
