// `npm run up`: install, build, migrate the embedded database, register the
// built-in guest image, and serve the panel (HOST/PORT, default localhost:3000).
// Node built-ins only until dependencies are installed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { buildNative, buildNext, checkKvm, ensureNodeModules, generatePrisma, ROOT, run, step } from './lib/steps.mjs';

try {
  if (Number(process.versions.node.split('.')[0]) < 20) throw new Error(`Node 20 or newer is required (this is ${process.version})`);
  ensureNodeModules();
  await generatePrisma();
  buildNative();
  buildNext();
  step('Migrating the database');
  const { migrate, defaultDatabaseUrl } = await import('./migrate.mjs');
  await migrate(defaultDatabaseUrl());
  // The test guest (built by buildNative) boots on every KVM host, PVM included: it must be there.
  // The Linux images are offered, not built here (npm run images; keeps up fast).
  step('Registering the built-in images');
  run(path.join(ROOT, 'node_modules/.bin/tsx'), ['server/images/registerBuiltin.ts', '--require', 'test-guest']);
  checkKvm();
} catch (e) {
  console.error(`up: ${e.message}`);
  process.exit(1);
}

step('Starting the panel');
const panel = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['server/main.ts'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => panel.kill(sig));
panel.on('exit', (code) => process.exit(code ?? 1));
