// Starts the real panel for the browser tests: fresh temporary DATA_DIR,
// migrations, the built-in images (the real test guest), then
// `tsx server/main.ts` in production mode on a free port with its local host
// agent, so VMs started from the browser are real VM processes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, child: ChildProcess, logFile: string, ms = 90_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the panel exited with ${child.exitCode} before it was ready; see ${logFile}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the panel did not answer ${url} within ${ms / 1000} s; see ${logFile}`);
}

/** VM processes outlive the panel by design (they are re-adopted on restart): end the test's own. */
function killLeftoverVms(dataDir: string) {
  const vms = path.join(dataDir, 'vms');
  if (!existsSync(vms)) return;
  for (const id of readdirSync(vms)) {
    try {
      const pid = Number(readFileSync(path.join(vms, id, 'vm.pid'), 'utf8').trim());
      if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) process.kill(pid, 'SIGKILL');
    } catch { /* no pid file or already gone */ }
  }
}

export default async function globalSetup() {
  if (!existsSync(path.join(ROOT, '.next/BUILD_ID'))) {
    throw new Error('No production build of the UI (.next/BUILD_ID is missing). Run `NEXT_TELEMETRY_DISABLED=1 npx next build` first (`npm test` does it).');
  }
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Debian chromium is missing: apt-get install -y chromium (the tests never download a browser).');
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-e2e-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', AGENT: 'local' };
  delete env.DATABASE_URL;
  delete env.PUBLIC_URL;

  const m = spawnSync(process.execPath, [path.join(ROOT, 'scripts/migrate.mjs')], { cwd: ROOT, env, encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`migration failed:\n${m.stderr}`);

  if (!existsSync(path.join(ROOT, 'native/guest/build/guest.elf'))) {
    throw new Error('The test guest is not built (native/guest/build/guest.elf). Run `npm run guest` first (`npm test` does it).');
  }
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['server/images/registerBuiltin.ts'], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`registering the built-in images failed:\n${r.stderr}`);

  const port = await freePort();
  const logFile = path.join(dataDir, 'panel.log');
  const log = createWriteStream(logFile);
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['server/main.ts'], {
    cwd: ROOT,
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/healthz`, child, logFile);
  await waitFor(`${base}/signin`, child, logFile);

  process.env.E2E_BASE_URL = base;
  process.env.E2E_DATA_DIR = dataDir;

  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => { if (child.exitCode !== null) r(null); else child.once('exit', r); setTimeout(r, 5000).unref(); });
    killLeftoverVms(dataDir);
    if (!process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  };
}
