// Registers the built-in images this data dir has (the test guest, copied
// from native/guest/build, plus whatever `npm run images` made) in the image
// catalog. Idempotent: re-running updates paths. `npm run up` runs it with
// `--require test-guest` (the image that boots on every KVM host, PVM
// included, must exist); `npm run images` registers through register.ts.
import { loadConfig } from '../config';
import { createDb } from '../db/client';
import { installTestGuest, registerBuiltinImages, TEST_GUEST_BUILD } from './register';

async function main() {
  const required = process.argv.flatMap((a, i, all) => (all[i - 1] === '--require' ? [a] : []));
  const config = loadConfig();
  if (!installTestGuest(config.dataDir)) console.error(`images: test-guest: ${TEST_GUEST_BUILD} is missing (run npm run guest)`);
  const db = await createDb(config.databaseUrl);
  try {
    const { registered, missing } = await registerBuiltinImages(db, config.dataDir);
    for (const name of registered) console.error(`images: ${name} ready`);
    const optional = missing.filter((m) => !required.includes(m.name) && m.name !== 'test-guest');
    if (optional.length) console.error(`images: also available: ${optional.map((m) => m.name).join(', ')} (npm run images${optional.some((m) => m.name === 'debian') ? ' [-- --debian]' : ''}; Linux images need hosts with VT-x/AMD-V)`);
    const failed = missing.filter((m) => required.includes(m.name) || m.name === 'test-guest');
    for (const m of failed) console.error(`images: ${m.name}: ${m.why}`);
    if (failed.some((m) => required.includes(m.name))) process.exitCode = 1;
  } finally {
    await db.$disconnect();
  }
}

await main();
