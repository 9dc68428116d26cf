// `npm run build`: everything `npm run up` needs, without starting the panel.
import { buildNative, buildNext, ensureNodeModules, generatePrisma } from './lib/steps.mjs';

try {
  ensureNodeModules();
  await generatePrisma();
  buildNative();
  buildNext({ force: process.argv.includes('--force') });
} catch (e) {
  console.error(`build: ${e.message}`);
  process.exit(1);
}
