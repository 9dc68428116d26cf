#!/usr/bin/env node
// `npm run vm -- --kernel FILE ...`: builds what is missing (the native
// addon with node-gyp, the runner bundles with esbuild; progress on stderr),
// then runs the bundled CLI in this same process (no TypeScript at run time,
// so the VM starts fast). `node scripts/vm.mjs --build-only` just builds.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const addon = join(root, "native/build/Release/kvmvmm.node");
const outdir = join(root, "native/build");
const cliBundle = join(outdir, "cli.mjs");
const srcDir = join(root, "server/vm");

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`vm: '${cmd} ${args.join(" ")}' failed\n`);
    process.exit(1);
  }
}

function mtime(p) {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

function bundleStale() {
  const built = Math.min(mtime(cliBundle), mtime(join(outdir, "runner.mjs")));
  if (!built) return true;
  return readdirSync(srcDir).some((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && mtime(join(srcDir, f)) > built);
}

// Newest mtime under native/src and of binding.gyp (a few dozen stats).
function newestNativeSource() {
  let newest = mtime(join(root, "native/binding.gyp"));
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cc|h)$/.test(e.name)) newest = Math.max(newest, mtime(p));
    }
  };
  walk(join(root, "native/src"));
  return newest;
}

// Build against the installed Node's own headers (never download them):
// npm passes its `nodedir` config through the environment; run directly,
// fall back to the system headers when they are there.
function nodeGypArgs() {
  const nodedir = process.env.npm_config_nodedir || (existsSync("/usr/include/node/node_api.h") ? "/usr" : "");
  return nodedir ? [`--nodedir=${nodedir}`] : [];
}

export function build() {
  if (!existsSync(addon)) {
    process.stderr.write("vm: building the native addon (node-gyp)...\n");
    run(join(root, "node_modules/.bin/node-gyp"), ["rebuild", "-C", "native", ...nodeGypArgs()]);
  } else if (newestNativeSource() > mtime(addon)) {
    // configure again: binding.gyp expands the source list at configure time.
    process.stderr.write("vm: native sources changed, rebuilding the addon (node-gyp)...\n");
    run(join(root, "node_modules/.bin/node-gyp"), ["configure", "build", "-C", "native", ...nodeGypArgs()]);
  }
  if (bundleStale()) {
    process.stderr.write("vm: bundling server/vm (esbuild)...\n");
    run(join(root, "node_modules/.bin/esbuild"), [
      "cli=server/vm/cli-entry.ts",
      "runner=server/vm/runner-entry.ts",
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--minify-syntax",
      "--log-level=warning",
      `--outdir=${outdir}`,
      "--out-extension:.js=.mjs",
    ]);
  }
}

const args = process.argv.slice(2);
build();
if (args[0] !== "--build-only") {
  await import(pathToFileURL(cliBundle).href);  // runs the CLI with process.argv
}
