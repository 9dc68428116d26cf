// Puts the built-in images into the catalog: each DATA_DIR/images/<name>/
// with an image.json and all its files becomes (or updates) a row. The test
// guest is copied there from native/guest/build/ first, so the data dir holds
// everything VMs boot from. Idempotent.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../config';
import type { Db } from '../db/client';
import { BUILTIN_NAMES, builtinDir, manifestToImage, MANIFEST, readManifest, type ImageManifest } from './catalog';

export const TEST_GUEST_BUILD = path.join(ROOT_DIR, 'native/guest/build/guest.elf');

export const TEST_GUEST_DESCRIPTION = "The project's own small guest OS: a shell on the serial port and the screen. Boots on every KVM host, PVM hosts included.";

export function writeManifest(dir: string, m: ImageManifest): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, MANIFEST);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Copies the built test guest into the data dir (when it changed); false when it is not built. */
export function installTestGuest(dataDir: string, source = TEST_GUEST_BUILD): boolean {
  if (!existsSync(source)) return false;
  const dir = builtinDir(dataDir, 'test-guest');
  const target = path.join(dir, 'guest.elf');
  mkdirSync(dir, { recursive: true });
  const bytes = readFileSync(source);
  if (!existsSync(target) || !readFileSync(target).equals(bytes)) {
    copyFileSync(source, `${target}.tmp`);
    renameSync(`${target}.tmp`, target);
  }
  writeManifest(dir, {
    name: 'test-guest', kind: 'test-guest', description: TEST_GUEST_DESCRIPTION, kernel: 'guest.elf', cmdline: '', minMemoryMiB: 32, runsOn: 'any',
    source: { build: 'native/guest (npm run guest)' },
  });
  return true;
}

/** Upserts every complete built-in image; returns the names registered and the ones skipped with why. */
export async function registerBuiltinImages(db: Db, dataDir: string): Promise<{ registered: string[]; missing: { name: string; why: string }[] }> {
  const registered: string[] = [];
  const missing: { name: string; why: string }[] = [];
  for (const name of BUILTIN_NAMES) {
    const dir = builtinDir(dataDir, name);
    const m = readManifest(dir);
    if (!m || m.name !== name) {
      missing.push({ name, why: name === 'test-guest' ? 'not built (npm run guest)' : `not built (npm run images${name === 'debian' ? ' -- --debian' : ''})` });
      continue;
    }
    const image = manifestToImage(dir, m);
    if (!image) {
      missing.push({ name, why: `files listed in ${path.join(dir, MANIFEST)} are missing (npm run images)` });
      continue;
    }
    await db.image.upsert({ where: { name }, create: image, update: image });
    registered.push(name);
  }
  return { registered, missing };
}
