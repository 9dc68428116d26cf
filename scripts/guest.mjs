#!/usr/bin/env node
// Builds the project's test guest (native/guest) and prints the absolute path
// of the bootable PVH ELF as the last line of stdout. Progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const guestDir = resolve(root, 'native', 'guest');
const image = resolve(guestDir, 'build', 'guest.elf');

// make's own output is progress too: keep stdout for the path alone.
const r = spawnSync('make', ['-C', guestDir], { stdio: ['ignore', 2, 2] });
if (r.error) {
  console.error(`guest: cannot run make: ${r.error.message}`);
  process.exit(1);
}
if (r.status !== 0 || !existsSync(image)) {
  console.error(`guest: build failed (make exit ${r.status ?? r.signal})`);
  process.exit(1);
}
process.stdout.write(`${image}\n`);
