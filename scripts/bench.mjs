#!/usr/bin/env node
// `npm run bench -- NAME [args]`: runs bench/NAME.ts with tsx (Node built-ins only here).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const BENCHES = {
  vmm: "VM start time, VMM memory overhead and idle CPU, side by side with QEMU",
  console: "browser console (VNC over WebSocket): bytes, server CPU, key round trip, side by side with QEMU + websockify",
  lifecycle: "start call to guest ready and stop to stopped through the panel's tRPC API; 64 MiB VMs started in 60 s",
};

const [name, ...rest] = process.argv.slice(2);
const usage = () =>
  `usage: npm run bench -- NAME [args]\n` + Object.entries(BENCHES).map(([k, v]) => `  ${k.padEnd(10)} ${v}`).join("\n");

if (!name || name === "-h" || name === "--help") {
  process.stdout.write(usage() + "\n");
  process.exit(name ? 0 : 2);
}
const file = join(root, "bench", `${name}.ts`);
if (!(name in BENCHES) || !existsSync(file)) {
  process.stderr.write(`bench: no benchmark '${name}' ${name in BENCHES ? "yet (bench/" + name + ".ts missing)" : ""}\n${usage()}\n`);
  process.exit(2);
}
const tsx = join(root, "node_modules", ".bin", "tsx");
const r = spawnSync(tsx, [file, ...rest], { cwd: root, stdio: "inherit" });
if (r.error) {
  process.stderr.write(`bench: cannot run ${tsx}: ${r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
