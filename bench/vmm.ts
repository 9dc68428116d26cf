// `npm run bench -- vmm [--runs N] [--idle N] [--idle-seconds S] [--only a,b]`
//
// Our VMM side by side with QEMU (microvm, KVM) on the project's test guest
// (native/guest), 64 MiB, one vCPU, serial on stdio, no framebuffer:
//
//  (a) start: spawn() to "guest ready" on the VM's stdout; median and p90 of
//      N runs (runs of the different VMMs interleaved so drift hits all alike).
//  (b) memory the VMM itself costs, guest RAM excluded. From /proc/PID/smaps,
//      ~300 ms after "guest ready": the guest RAM mapping is the anonymous
//      rw mapping whose size is exactly the guest RAM (64 MiB; both VMMs map
//      it so); its Rss/Pss/Private are subtracted from the process totals.
//      RSS counts shared library pages fully; PSS splits them between the
//      processes that map them, so "PSS with 50 running" (from phase c) is
//      what each extra VM really costs a host. Kernel-side KVM memory (vCPU
//      structs, EPT/shadow tables) is in neither and is the same for both.
//  (c) 50 idle VMs at once: host CPU used over S seconds after they settle,
//      summed from utime+stime of the VM processes (/proc/PID/stat), as a
//      share of the host's total CPU time (nproc x S); /proc/stat busy time of
//      the whole host over the same window is printed too.
//
// Columns: "ours" = the product's VM process, native/build/kvmvmm-runner
// (what the host agent starts and `npm run vm` runs), started directly as the
// agent does; "qemu" = qemu-system-x86_64; "ours/qemu" = the ratio.
// Every process started here is killed before exit (also on Ctrl-C).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const MEM_MIB = 64;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: positive number expected`);
  return v;
}
const RUNS = arg("runs", 20);
const IDLE_VMS = arg("idle", 50);
const IDLE_SECONDS = arg("idle-seconds", 10);
const onlyIdx = process.argv.indexOf("--only");
const ONLY = onlyIdx >= 0 ? (process.argv[onlyIdx + 1] ?? "").split(",") : null;

const progress = (m: string) => process.stderr.write(`bench vmm: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- setup ----

function mustRun(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(" ")})`);
  return r.stdout;
}

progress("building the VM runner and the test guest if needed");
mustRun(process.execPath, [join(ROOT, "scripts/vm.mjs"), "--build-only"], "building the VMM");
const guest = mustRun(process.execPath, [join(ROOT, "scripts/guest.mjs")], "building the guest").trim().split("\n").at(-1)!.trim();
const runner = join(ROOT, "native/build/kvmvmm-runner");
if (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"]).status !== 0) {
  progress("qemu-system-x86_64 missing: apt-get install -y qemu-system-x86");
  mustRun("apt-get", ["install", "-y", "qemu-system-x86"], "installing QEMU");
}

interface Side {
  name: string;
  cmd: string;
  args: string[];
}
const ourArgs = ["--kernel", guest, "--memory", String(MEM_MIB), "--framebuffer", "none", "--serial", "stdio"];
const SIDES: Side[] = [
  { name: "ours", cmd: runner, args: ourArgs },
  {
    name: "qemu",
    cmd: "qemu-system-x86_64",
    args: ["-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities", "-nodefaults", "-no-user-config",
      "-nographic", "-serial", "stdio", "-m", String(MEM_MIB), "-kernel", guest],
  },
].filter((s) => !ONLY || ONLY.some((o) => s.name.includes(o)));

// ---- processes ----

const live = new Set<ChildProcess>();
function killAll(): void {
  for (const c of live) c.kill("SIGKILL");
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

interface Vm {
  child: ChildProcess;
  pid: number;
  readyMs: number;
  exited: Promise<void>;
}

function startVm(side: Side, timeoutMs = 15_000): Promise<Vm> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(side.cmd, side.args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    const exited = new Promise<void>((r) => child.once("exit", () => (live.delete(child), r())));
    let out = "";
    let err = "";
    let done = false;
    const timer = setTimeout(() => fail(`no "guest ready" within ${timeoutMs} ms`), timeoutMs);
    function fail(why: string) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${side.name}: ${why}\nstdout: ${out.slice(-500)}\nstderr: ${err.slice(-500)}`));
    }
    child.stdout!.on("data", (d: Buffer) => {
      if (done) return;  // keep draining so the VM never blocks on a full pipe
      out += d.toString();
      if (out.includes("guest ready")) {
        done = true;
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, readyMs: performance.now() - t0, exited });
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code, sig) => fail(`exited early (${code ?? sig})`));
    child.once("error", (e) => fail(e.message));
  });
}

async function stopVm(vm: Vm): Promise<void> {
  vm.child.kill("SIGKILL");
  await vm.exited;
}

// ---- /proc ----

interface Mem {
  rss: number;
  pss: number;
  priv: number;
  guestRss: number;
  guestPss: number;
  guestPriv: number;
}

/** kB figures from smaps; the guest RAM mapping is the anonymous rw mapping of exactly MEM_MIB. */
function memory(pid: number): Mem {
  interface Mapping { anonRw: boolean; size: number; rss: number; pss: number; priv: number }
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ anonRw: head[1]!.startsWith("rw") && head[2] === "0" && head[3] === "", size: 0, rss: 0, pss: 0, priv: 0 });
      continue;
    }
    const kv = /^(\w+):\s+(\d+) kB/.exec(line);
    const cur = maps.at(-1);
    if (!kv || !cur) continue;
    const v = Number(kv[2]);
    switch (kv[1]) {
      case "Size": cur.size = v; break;
      case "Rss": cur.rss = v; break;
      case "Pss": cur.pss = v; break;
      case "Private_Clean":
      case "Private_Dirty": cur.priv += v; break;
    }
  }
  const sum = (k: "rss" | "pss" | "priv") => maps.reduce((a, m) => a + m[k], 0);
  const guest = maps
    .filter((m) => m.anonRw && m.size === MEM_MIB * 1024)
    .sort((a, b) => b.rss - a.rss)[0];
  return {
    rss: sum("rss"), pss: sum("pss"), priv: sum("priv"),
    guestRss: guest?.rss ?? 0, guestPss: guest?.pss ?? 0, guestPriv: guest?.priv ?? 0,
  };
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime + stime of the whole process (all threads), in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;  // fields 14 and 15
  } catch {
    return 0;
  }
}

function hostTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + (f[4] ?? 0);
  return { busy: total - idle, total };
}

// ---- statistics ----

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2) : NaN;
};

interface Result {
  startMs: number[];
  mem: Mem[];
  idle?: { cpuPct: number; hostBusyPct: number; pssPerVmKiB: number; rssPerVmKiB: number; count: number };
}
const results = new Map<string, Result>(SIDES.map((s) => [s.name, { startMs: [], mem: [] }]));

// ---- (a) + (b) ----

progress(`start time and memory: ${RUNS} runs each of ${SIDES.map((s) => s.name).join(", ")}`);
for (const s of SIDES) await stopVm(await startVm(s));  // warm the page cache
for (let i = 0; i < RUNS; i++) {
  for (const s of SIDES) {
    const r = results.get(s.name)!;
    const vm = await startVm(s);
    r.startMs.push(vm.readyMs);
    await sleep(300);
    r.mem.push(memory(vm.pid));
    await stopVm(vm);
  }
  if ((i + 1) % 5 === 0) progress(`  ${i + 1}/${RUNS} runs`);
}

// ---- (c) ----

for (const s of SIDES) {
  progress(`${IDLE_VMS} idle VMs: ${s.name} (starting)`);
  const vms: Vm[] = [];
  try {
    for (let i = 0; i < IDLE_VMS; i += 5) {
      const batch = await Promise.all(Array.from({ length: Math.min(5, IDLE_VMS - i) }, () => startVm(s, 60_000)));
      vms.push(...batch);
    }
    await sleep(2000);  // let start-up work finish
    const cpu0 = vms.map((v) => cpuSeconds(v.pid));
    const h0 = hostTicks();
    progress(`${IDLE_VMS} idle VMs: ${s.name} (measuring ${IDLE_SECONDS} s)`);
    const t0 = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const wall = (performance.now() - t0) / 1000;
    const used = vms.reduce((a, v, i) => a + cpuSeconds(v.pid) - cpu0[i]!, 0);
    const h1 = hostTicks();
    const mems = vms.map((v) => memory(v.pid));
    results.get(s.name)!.idle = {
      count: vms.length,
      cpuPct: (100 * used) / (wall * cpus().length),
      hostBusyPct: (100 * (h1.busy - h0.busy)) / (h1.total - h0.total),
      pssPerVmKiB: median(mems.map((m) => m.pss - m.guestPss)),
      rssPerVmKiB: median(mems.map((m) => m.rss - m.guestRss)),
    };
  } finally {
    await Promise.all(vms.map(stopVm));
  }
}

// ---- report ----

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const rows: [string, (r: Result) => number, (v: number) => string][] = [
  ["start -> guest ready, median", (r) => median(r.startMs), (v) => `${v.toFixed(1)} ms`],
  ["start -> guest ready, p90", (r) => quantile(r.startMs, 0.9), (v) => `${v.toFixed(1)} ms`],
  ["RSS (whole process), median", (r) => median(r.mem.map((m) => m.rss)), mib],
  ["RSS - guest RAM, median", (r) => median(r.mem.map((m) => m.rss - m.guestRss)), mib],
  ["PSS - guest RAM (alone), median", (r) => median(r.mem.map((m) => m.pss - m.guestPss)), mib],
  ["private - guest RAM, median", (r) => median(r.mem.map((m) => m.priv - m.guestPriv)), mib],
  ["guest RAM resident", (r) => median(r.mem.map((m) => m.guestRss)), mib],
  [`PSS - guest RAM, ${IDLE_VMS} running`, (r) => r.idle?.pssPerVmKiB ?? NaN, mib],
  [`${IDLE_VMS} idle VMs: CPU of host`, (r) => r.idle?.cpuPct ?? NaN, (v) => `${v.toFixed(2)} %`],
  [`${IDLE_VMS} idle VMs: whole host busy (incl. others)`, (r) => r.idle?.hostBusyPct ?? NaN, (v) => `${v.toFixed(2)} %`],
];
const qemu = results.get("qemu");
const ours = SIDES.filter((s) => s.name !== "qemu");
const header = ["", ...SIDES.map((s) => s.name), ...(qemu ? ours.map((s) => `${s.name}/qemu`) : [])];
const table: string[][] = [header];
for (const [label, get, fmt] of rows) {
  const vals = SIDES.map((s) => get(results.get(s.name)!));
  const q = qemu ? get(qemu) : NaN;
  table.push([label, ...vals.map((v) => (Number.isFinite(v) ? fmt(v) : "-")),
    ...(qemu ? ours.map((s) => {
      const v = get(results.get(s.name)!);
      return Number.isFinite(v) && q > 0 ? `${(v / q).toFixed(2)}x` : "-";
    }) : [])]);
}
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
const out: string[] = [];
out.push(`VMM benchmark: guest ${guest}, ${MEM_MIB} MiB, 1 vCPU, ${RUNS} runs, ${IDLE_VMS} idle VMs x ${IDLE_SECONDS} s, ${cpus().length} host CPUs`);
for (const r of table) out.push(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));

out.push("", "targets (issue):");
for (const s of ours) {
  const r = results.get(s.name)!;
  const st = median(r.startMs);
  const oh = median(r.mem.map((m) => m.rss - m.guestRss));
  const ok = (b: boolean) => (b ? "PASS" : "FAIL");
  if (qemu) {
    const qs = median(qemu.startMs);
    const qoh = median(qemu.mem.map((m) => m.rss - m.guestRss));
    out.push(`  ${s.name}: start <= 0.5x QEMU and < 100 ms: ${st.toFixed(1)} ms vs ${(0.5 * qs).toFixed(1)} ms -> ${ok(st <= 0.5 * qs && st < 100)}`);
    out.push(`  ${s.name}: RSS overhead <= QEMU's: ${mib(oh)} vs ${mib(qoh)} -> ${ok(oh <= qoh)}`);
  } else out.push(`  ${s.name}: start < 100 ms: ${ok(st < 100)} (no QEMU column)`);
  if (r.idle) out.push(`  ${s.name}: ${IDLE_VMS} idle VMs < 5% of host CPU: ${r.idle.cpuPct.toFixed(2)} % -> ${ok(r.idle.cpuPct < 5)}`);
}
process.stdout.write(out.join("\n") + "\n");
killAll();
