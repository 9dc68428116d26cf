// `npm run bench -- lifecycle [--runs N] [--seconds S] [--concurrency C] [--max-vms N] [--overcommit]`
//
// The VM lifecycle as a user drives it: a real panel process (the panel's
// HTTP server with tRPC and its local host agent, SQLite, a fresh data dir;
// the Next.js pages are not needed) and this process as its client over HTTP.
//
//  (a) `vm.start` call to "guest ready" on the VM's serial socket, and to the
//      call's return; N runs on one VM, median and p90.
//  (b) `vm.stop` (graceful: ACPI power button, the guest powers off) to the
//      state `stopped` announced on the live feed (vm.onChange); and the same
//      for `vm.forceStop`. N runs each.
//  (c) how many 64 MiB VMs start (to "guest ready", kept running) within S
//      seconds, C start calls in flight. VMs are created beforehand (not
//      timed), up to what the host can place: the panel never overcommits
//      memory, and its vCPU overcommit (4x cores) is lifted for this count.
//      --overcommit lifts the memory rule too (the test guest touches little
//      of its RAM), to see what the machine itself does in S seconds.
//
// Everything started here is ended before exit (VMs deleted, the panel
// process stopped, any runner left over in the bench's data dir killed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../server/api/root';
import { openVmFeed, type VmFeed } from '../test/support/feed';

const ROOT = path.join(import.meta.dirname, '..');
const GUEST = path.join(ROOT, 'native/guest/build/guest.elf');
const RUNNER = path.join(ROOT, 'native/build/kvmvmm-runner');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: positive number expected`);
  return v;
}

// ---------------------------------------------------------------- panel side

/** `--serve DATA_DIR`: the panel process of the bench. Prints "ready URL IMAGE_ID" on stdout. */
async function serve(dataDir: string): Promise<void> {
  const { loadConfig } = await import('../server/config');
  const { createDb } = await import('../server/db/client');
  const { createServices } = await import('../server/services');
  const { createPanelServer } = await import('../server/http');
  const { startLocalAgent } = await import('../server/agent/boot');
  const config = loadConfig({ ...process.env, NODE_ENV: 'production', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', AGENT: 'local', LOG_LEVEL: 'warn' });
  const db = await createDb(config.databaseUrl);
  const services = createServices(config, db);
  const agent = await startLocalAgent(services);
  if (!agent) throw new Error('the local host agent did not start');
  // The count in (c) is about this machine, not the placement policy's vCPU overcommit.
  await db.host.update({ where: { id: agent.hostId }, data: { cpus: 100_000, ...(process.env.BENCH_OVERCOMMIT ? { memoryMiB: 100_000_000 } : {}) } });
  const image = await db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: GUEST, minMemoryMiB: 16, builtin: true } });
  const server = createPanelServer(services);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  process.stdout.write(`ready http://127.0.0.1:${port} ${image.id}\n`);
  const stop = async () => {
    await agent.stopAll();
    server.closeAllConnections();
    server.close();
    await db.$disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

// ---------------------------------------------------------------- client side

const progress = (m: string) => process.stderr.write(`bench lifecycle: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const fmt = (xs: number[]) => `median ${pct(xs, 50).toFixed(1)} ms, p90 ${pct(xs, 90).toFixed(1)} ms, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)} (n=${xs.length})`;

/** A tRPC client with a cookie jar, as a browser. */
function makeClient(url: string) {
  const jar = new Map<string, string>();
  const c = createTRPCClient<AppRouter>({
    links: [httpLink({
      url: `${url}/api/trpc`,
      transformer: superjson,
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
        const res = await fetch(input, { ...init, headers } as RequestInit);
        for (const sc of res.headers.getSetCookie()) {
          const [pair] = sc.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        return res;
      },
    })],
  });
  return { c, cookie: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
}

/** The live feed (vm.onChange over SSE): resolves waiters when a VM enters a state. */
class Feed {
  private waiters: { vmId: string; state: string; resolve: (t: number) => void }[] = [];
  private feed: VmFeed | null = null;
  async open(url: string, cookie: string) {
    this.feed = await openVmFeed(url, cookie, ({ vmId, state, at }) => {
      this.waiters = this.waiters.filter((w) => (w.vmId === vmId && w.state === state ? (w.resolve(at), false) : true));
    });
  }
  /** Call before the action that causes the state. */
  when(vmId: string, state: string, ms = 60_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`VM ${vmId} did not become ${state} within ${ms} ms`)), ms);
      this.waiters.push({ vmId, state, resolve: (t) => { clearTimeout(timer); resolve(t); } });
    });
  }
  close() { void this.feed?.stop(); }
}

/** Resolves (with the time) when "guest ready" shows on the VM's serial socket (its recent output is replayed). */
function guestReady(sock: string, ms = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(sock);
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`no "guest ready" on ${sock} within ${ms} ms`)); }, ms);
    c.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('guest ready')) {
        const t = performance.now();
        clearTimeout(timer);
        c.destroy();
        resolve(t);
      }
    });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function main() {
  const RUNS = arg('runs', 20);
  const SECONDS = arg('seconds', 60);
  const CONCURRENCY = arg('concurrency', 2);
  const OVERCOMMIT = process.argv.includes('--overcommit');
  const MAX_VMS = arg('max-vms', OVERCOMMIT ? 2000 : 1000);
  if (!existsSync(RUNNER) || !existsSync(GUEST)) {
    progress('building the native runner and the test guest');
    spawnSync('make', ['-C', 'native', '-j2', '--no-print-directory', 'runner'], { cwd: ROOT, stdio: 'inherit' });
    spawnSync(process.execPath, [path.join(ROOT, 'scripts/guest.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-bench-lifecycle-'));
  // @ts-expect-error plain ESM script without types
  const { migrate } = await import('../scripts/migrate.mjs');
  await migrate(`file:${path.join(dataDir, 'panel.db')}`, () => {});

  let panel: ChildProcess | null = null;
  const cleanup = () => {
    panel?.kill('SIGKILL');
    // Any VM process of this bench still alive (the panel normally ends them).
    for (const vmId of existsSync(path.join(dataDir, 'vms')) ? readdirSync(path.join(dataDir, 'vms')) : []) {
      try {
        const pid = Number(readFileSync(path.join(dataDir, 'vms', vmId, 'vm.pid'), 'utf8'));
        if (pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) process.kill(pid, 'SIGKILL');
      } catch { /* gone */ }
    }
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

  try {
    progress(`starting the panel (data in ${dataDir})`);
    panel = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [import.meta.filename, '--serve', dataDir], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(OVERCOMMIT ? { BENCH_OVERCOMMIT: '1' } : {}), DATABASE_URL: `file:${path.join(dataDir, 'panel.db')}` },
    });
    const [url, imageId] = await new Promise<[string, string]>((resolve, reject) => {
      let out = '';
      panel!.stdout!.on('data', (d) => {
        out += d;
        const m = /ready (\S+) (\S+)\n/.exec(out);
        if (m) resolve([m[1]!, m[2]!]);
      });
      panel!.once('exit', (code) => reject(new Error(`the panel exited (${code})`)));
    });

    const admin = makeClient(url);
    await admin.c.auth.setup.mutate({ email: 'admin@bench.local', name: 'Admin', password: 'bench password long enough' });
    const big = 1_000_000;
    await admin.c.admin.createUser.mutate({
      email: 'user@bench.local', name: 'Bench', password: 'bench password long enough', role: 'user',
      quota: { vms: big, vcpus: big, memoryMiB: big, diskGiB: big, runningVms: big },
    });
    const user = makeClient(url);
    await user.c.auth.signIn.mutate({ email: 'user@bench.local', password: 'bench password long enough' });
    const c = user.c;
    const feed = new Feed();
    await feed.open(url, user.cookie());
    const serialOf = (id: string) => path.join(dataDir, 'vms', id, 'serial.sock');

    const createVm = async (name: string) => {
      const vm = await c.vm.create.mutate({ name, imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      const stopped = feed.when(vm.id, 'stopped');
      if ((await c.vm.get.query({ id: vm.id })).state !== 'stopped') await stopped;
      return vm.id;
    };

    // (a) and (b)
    progress(`(a, b) ${RUNS} x start → guest ready → stop, then ${RUNS} x start → force stop, on one VM`);
    const id = await createVm('bench-one');
    const callMs: number[] = [], readyMs: number[] = [], stopMs: number[] = [], forceMs: number[] = [];
    for (let i = 0; i < RUNS * 2; i++) {
      const t0 = performance.now();
      await c.vm.start.mutate({ id });
      callMs.push(performance.now() - t0);
      readyMs.push((await guestReady(serialOf(id))) - t0);
      const stopped = feed.when(id, 'stopped');
      const t1 = performance.now();
      if (i < RUNS) await c.vm.stop.mutate({ id });
      else await c.vm.forceStop.mutate({ id });
      (i < RUNS ? stopMs : forceMs).push((await stopped) - t1);
    }
    await c.vm.delete.mutate({ id });

    // (c)
    const host = (await admin.c.admin.hosts.query()).find((h) => h.name === 'local');
    const hostMiB = host?.memoryMiB ?? Math.floor(os.totalmem() / 2 ** 20);
    const fit = OVERCOMMIT ? MAX_VMS : Math.min(MAX_VMS, Math.floor(hostMiB / 64));
    progress(`(c) creating ${fit} VMs of 64 MiB (${OVERCOMMIT ? 'memory overcommitted' : `the host's ${hostMiB} MiB / 64`}, at most --max-vms ${MAX_VMS}; not timed)`);
    const pool: string[] = [];
    const tc = performance.now();
    for (let i = 0; i < fit; i++) {
      try {
        pool.push(await createVm(`fleet-${i}`));
      } catch (e) {
        progress(`creating VM ${i} failed: ${(e as Error).message}`);
        break;
      }
    }
    const createEach = (performance.now() - tc) / Math.max(1, pool.length);
    progress(`(c) starting them, ${CONCURRENCY} start calls in flight, for ${SECONDS} s`);
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    let next = 0, ready = 0, failed = 0;
    let lastReadyAt = t0;
    const errors = new Map<string, number>();
    const readyWaits: Promise<void>[] = [];
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline && next < pool.length) {
        const vmId = pool[next++]!;
        try {
          await c.vm.start.mutate({ id: vmId });
          readyWaits.push(guestReady(serialOf(vmId), Math.max(1, deadline - performance.now())).then(
            (t) => { ready++; lastReadyAt = Math.max(lastReadyAt, t); },
            () => { failed++; },
          ));
        } catch (e) {
          failed++;
          const m = (e as Error).message;
          errors.set(m, (errors.get(m) ?? 0) + 1);
        }
      }
    }));
    await Promise.all(readyWaits);
    const elapsed = (lastReadyAt - t0) / 1000;
    const load = os.loadavg()[0]!;
    const mem = readFileSync('/proc/meminfo', 'utf8');
    const avail = Number(/MemAvailable:\s+(\d+)/.exec(mem)![1]) / 1024;

    const out = [
      '',
      `VM lifecycle through the panel's tRPC API (local host agent, native runner, test guest, 1 vCPU, 64 MiB), ${os.cpus().length} CPUs`,
      `  start call → guest ready on serial   ${fmt(readyMs)}`,
      `  start call → call returned           ${fmt(callMs)}`,
      `  stop (power button) → stopped (feed) ${fmt(stopMs)}`,
      `  force stop → stopped (feed)          ${fmt(forceMs)}`,
      `  64 MiB VMs started to guest ready in ${SECONDS} s: ${ready}${next >= pool.length && ready === pool.length ? ` (all ${pool.length} created${!OVERCOMMIT && pool.length === Math.floor(hostMiB / 64) ? ', as many as fit in the host\'s memory' : ''}, in ${elapsed.toFixed(1)} s)` : ''}` +
        `${failed ? `, ${failed} failed` : ''}; ${CONCURRENCY} start calls in flight; creating each took ${createEach.toFixed(0)} ms (not timed)`,
      `  with them running: load average ${load.toFixed(2)}, ${avail.toFixed(0)} MiB available`,
      ...[...errors].map(([m, n]) => `  error x${n}: ${m}`),
      '',
    ];
    process.stdout.write(out.join('\n'));

    progress(`cleaning up: deleting ${pool.length} VMs`);
    for (const vmId of pool) await c.vm.delete.mutate({ id: vmId, force: true }).catch(() => {});
    feed.close();
  } finally {
    if (panel && panel.exitCode === null) {
      panel.kill('SIGTERM');
      await new Promise((r) => { panel!.once('exit', r); setTimeout(r, 10_000); });
    }
    cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  serve(process.argv[3]!).catch((e) => { console.error(e); process.exit(1); });
} else {
  main().catch((e) => { progress(`failed: ${(e as Error).stack ?? e}`); process.exit(1); });
}
