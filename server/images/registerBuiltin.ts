// Registers the images this checkout has built (today: the project's test
// guest from native/guest) in the image catalog. Idempotent: re-running
// updates paths. `npm run up` calls it after building.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ROOT_DIR } from '../config';
import { createDb } from '../db/client';

export const BUILTIN_IMAGES = [
  {
    name: 'test-guest',
    kind: 'test-guest',
    description: "The project's own small guest OS: a shell on the serial port and the screen. Boots on every KVM host, PVM hosts included.",
    kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf'),
    cmdline: '',
    minMemoryMiB: 32,
  },
];

async function main() {
  const config = loadConfig();
  const db = await createDb(config.databaseUrl);
  try {
    for (const image of BUILTIN_IMAGES) {
      if (!existsSync(image.kernelPath)) {
        console.error(`images: ${image.name}: ${image.kernelPath} is missing (run npm run guest)`);
        continue;
      }
      await db.image.upsert({ where: { name: image.name }, create: { ...image, builtin: true }, update: { ...image, builtin: true } });
      console.error(`images: ${image.name} ready`);
    }
  } finally {
    await db.$disconnect();
  }
}

await main();
