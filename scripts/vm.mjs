#!/usr/bin/env node
// `npm run vm -- --kernel FILE ...`: runs one VM in the foreground with the
// native VM runner (native/build/kvmvmm-runner, the same program the host
// agent starts), building it first if its sources changed (make; progress on
// stderr). The runner gets the arguments unchanged and this terminal (stdin,
// stdout, stderr: with --serial stdio it is the guest's COM1); SIGINT, SIGTERM
// and SIGHUP are passed on; the exit code is the runner's (0 poweroff, 2 bad
// arguments or kernel, 10+ other reasons: native/src/runner/main.cc), or
// 128 + the signal that ended it.
//
// `node scripts/vm.mjs --build-only` builds the runner and the addon
// (native/build/Release/kvmvmm.node, node-gyp: the TypeScript surface the
// tests and tools load) and runs nothing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const native = join(root, 'native');
const src = join(native, 'src');
const runner = join(native, 'build/kvmvmm-runner');
const addon = join(native, 'build/Release/kvmvmm.node');

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

function run(what, cmd, args) {
  process.stderr.write(`vm: ${what}...\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`vm: ${what} failed ('${cmd} ${args.join(' ')}' ${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})\n`);
    process.exit(1);
  }
}

/**
 * Newest mtime of the C++ sources under native/src whose path (relative to
 * src) `wanted` accepts, and of their directories: adding, removing or
 * renaming a file changes its directory's mtime, so that counts too.
 * `dirs` is set when a directory is the newest thing (the file list changed).
 */
function newestSource(wanted) {
  let files = 0;
  let dirs = 0;
  const walk = (dir, rel) => {
    dirs = Math.max(dirs, mtime(dir));
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!wanted(r)) continue;
      if (e.isDirectory()) walk(join(dir, e.name), r);
      else if (/\.(cc|h)$/.test(e.name)) files = Math.max(files, mtime(join(dir, e.name)));
    }
  };
  walk(src, '');
  return { newest: Math.max(files, dirs), listChanged: dirs };
}

// What each binary is built from (native/Makefile, native/binding.gyp).
const runnerInputs = (rel) => rel !== 'addon.cc' && rel !== 'napi' && !rel.startsWith('napi/');
const addonInputs = (rel) => rel !== 'runner' && !rel.startsWith('runner/');

/** After a build that had nothing to redo (a touched file), mark the output current so the next run does not rebuild again. */
function markBuilt(file, newest) {
  if (existsSync(file) && mtime(file) < newest) {
    const now = new Date();
    utimesSync(file, now, now);
  }
}

function buildRunner() {
  const { newest } = newestSource(runnerInputs);
  const inputs = Math.max(newest, mtime(join(native, 'Makefile')));
  if (existsSync(runner) && mtime(runner) >= inputs) return;
  // make knows the exact header dependencies and relinks atomically.
  run('building the VM runner (make -C native runner)', 'make', ['-C', native, '-j2', '--no-print-directory', 'runner']);
  markBuilt(runner, inputs);
}

// Build against the installed Node's own headers (never download them):
// npm passes its `nodedir` config through the environment; run directly,
// fall back to the system headers when they are there.
function nodeGypArgs() {
  const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
  return nodedir ? [`--nodedir=${nodedir}`] : [];
}

function buildAddon() {
  const { newest, listChanged } = newestSource(addonInputs);
  const gyp = mtime(join(native, 'binding.gyp'));
  const built = mtime(addon);
  if (built && built >= Math.max(newest, gyp)) return;
  const nodeGyp = join(root, 'node_modules/.bin/node-gyp');
  // Never `node-gyp rebuild`: its clean step deletes native/build, the VM runner and unit tests included.
  if (!built) run('building the native addon (node-gyp)', nodeGyp, ['configure', 'build', '-C', 'native', ...nodeGypArgs()]);
  else if (listChanged > built || gyp > built || !existsSync(join(native, 'build/Makefile'))) {
    // binding.gyp expands the source list at configure time.
    run('native sources added or removed, rebuilding the addon (node-gyp)', nodeGyp, ['configure', 'build', '-C', 'native', ...nodeGypArgs()]);
  } else run('native sources changed, rebuilding the addon (node-gyp)', nodeGyp, ['build', '-C', 'native', ...nodeGypArgs()]);
  markBuilt(addon, Math.max(newest, gyp));
}

const args = process.argv.slice(2);
if (args[0] === '--build-only') {
  buildRunner();
  buildAddon();
  process.exit(0);
}

buildRunner();
const child = spawn(runner, args, { stdio: 'inherit' });
// A terminal's Ctrl-C reaches both processes (one process group); kill(1)
// only this one: either way the runner stops the VM and exits 15.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}
child.on('error', (e) => {
  process.stderr.write(`vm: cannot start ${runner}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
