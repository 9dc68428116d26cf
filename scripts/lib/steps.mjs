// Build steps shared by `npm run up`, `npm run build` and `npm test`.
// Node built-ins only: these run before `npm install` has happened.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name) => path.join(ROOT, 'node_modules/.bin', name);

export function step(title) {
  process.stderr.write(`\n▶ ${title}\n`);
}

/** Runs a command in the project root, streaming its output; throws on failure. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: opts.capture ? 'pipe' : ['ignore', opts.stdout ?? 'inherit', 'inherit'], env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...opts.env }, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFailure) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
  return r;
}

function lockHash() {
  return createHash('sha256').update(readFileSync(path.join(ROOT, 'package-lock.json'))).digest('hex');
}

/**
 * npm dependencies, installed exactly as locked. Install scripts are off
 * (some would try to download engines or prebuilt binaries, which fails
 * offline); the two packages that need one are rebuilt from source.
 */
export function ensureNodeModules() {
  const stamp = path.join(ROOT, 'node_modules/.kvmpanel-installed');
  const want = lockHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  step('Installing npm dependencies (npm ci)');
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  step('Building native npm modules from source (better-sqlite3, esbuild)');
  run('npm', ['rebuild', 'better-sqlite3', 'esbuild']);
  writeFileSync(stamp, want);
}

/** Debian packages the tests need; installed when running as root, else a clear message. */
export function ensureDebianPackages(pkgs) {
  const missing = pkgs.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout !== 'install ok installed');
  if (!missing.length) return;
  const line = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`Missing Debian packages. Run as root: ${line}`);
  step(`Installing Debian packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const first = run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, allowFailure: true });
  if (first.status !== 0) {
    run('apt-get', ['update'], { env });
    run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  }
}

export async function generatePrisma() {
  step('Generating the Prisma clients (SQLite and PostgreSQL)');
  const { writePostgresSchema } = await import('../prisma-schemas.mjs');
  writePostgresSchema();
  for (const schema of ['prisma/schema.prisma', 'prisma/postgresql/schema.prisma']) {
    run(bin('prisma'), ['generate', '--schema', schema], { stdout: 'ignore' });
  }
}

export function buildNative() {
  step('Building the VMM (VM runner, native addon) and the test guest');
  run(process.execPath, ['scripts/vm.mjs', '--build-only']); // each only when its sources changed
  run(process.execPath, ['scripts/guest.mjs'], { stdout: 'ignore' });
}

function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** The production Next.js build, redone only when app/ or public/ changed. */
export function buildNext({ force = false } = {}) {
  const marker = path.join(ROOT, '.next/BUILD_ID');
  const sources = Math.max(newestMtime(path.join(ROOT, 'app')), newestMtime(path.join(ROOT, 'public')), newestMtime(path.join(ROOT, 'server/domain')));
  if (!force && existsSync(marker) && statSync(marker).mtimeMs > sources) return;
  step('Building the web UI (next build)');
  run(bin('next'), ['build']);
}

export function checkKvm() {
  if (!existsSync('/dev/kvm')) process.stderr.write('warning: /dev/kvm is missing: the panel runs, but VMs cannot start on this host.\n');
}
