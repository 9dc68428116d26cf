#!/usr/bin/env node
// `npm run images [-- --debian] [--force] [--cache DIR]`: makes the built-in
// images from Debian packages (server/images/build.ts: test guest,
// debian-busybox, optionally a debootstrapped Debian disk) under
// DATA_DIR/images/ and registers them in the catalog. Progress on stderr.
import path from 'node:path';
import { ensureDebianPackages, ensureNodeModules, ROOT, run } from './lib/steps.mjs';

try {
  ensureNodeModules();
  const args = process.argv.slice(2);
  // Debian's own tools: dpkg-deb and tar are always there; debootstrap only for --debian.
  if (args.includes('--debian')) ensureDebianPackages(['debootstrap']);
  if (!args.includes('--no-register')) {
    const { migrate, defaultDatabaseUrl } = await import('./migrate.mjs');
    await migrate(defaultDatabaseUrl(), () => {});
  }
  run(path.join(ROOT, 'node_modules/.bin/tsx'), ['server/images/build.ts', ...args]);
} catch (e) {
  console.error(`images: ${e.message}`);
  process.exit(1);
}
