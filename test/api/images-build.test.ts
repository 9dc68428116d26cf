// `npm run images` end to end: it builds the debian-busybox image from
// Debian's packages (cached under test/.cache/images, so reruns are offline
// and take seconds), the validator accepts its files, the catalog lists it,
// and its kernel boots on our VMM:
// - every KVM host: Debian's kernel with the image's initrd and command line
//   reaches `Linux version` on COM1. On a PVM host the kernel is booted as the
//   vmlinux inside the image's bzImage (PVH entry): there the bzImage's own
//   decompressor, emulated instruction by instruction, takes minutes before
//   the kernel proper prints anything (test/vmm/linux.test.ts measured >240 s).
// - hardware KVM only: the bzImage itself runs /init, which prints its marker
//   (skipped on PVM hosts with the reason: the kernel stops in early boot there).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseUrl } from '../support/server';
import { ROOT_DIR } from '../../server/config';
import { createDb } from '../../server/db/client';
import { builtinDir, readManifest } from '../../server/images/catalog';
import { checkInitrd, checkKernel } from '../../server/images/validate';
import { USERSPACE_MARKER } from '../../server/images/initramfs';
import { kvmUsable, runCli, type CliRun } from '../../server/vm/testing';
import { extractVmlinux, hardwareKvm } from '../vmm/debian-kernel';

const CACHE = path.join(ROOT_DIR, 'test/.cache/images');
// Debian's tools make the images; elsewhere there is nothing to test.
const haveApt = existsSync('/usr/bin/apt-get') && existsSync('/usr/bin/dpkg-deb');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-images-'));
let databaseUrl = '';
let output = '';
const running = new Set<CliRun>();

beforeAll(async () => {
  if (!haveApt) return;
  databaseUrl = await freshDatabaseUrl('sqlite');
  const r = spawnSync(process.execPath, [path.join(ROOT_DIR, 'scripts/images.mjs'), '--cache', CACHE], {
    cwd: ROOT_DIR, encoding: 'utf8', timeout: 280_000,
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
  });
  output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`npm run images failed (${r.status ?? r.signal}):\n${output}`);
}, 300_000);

afterAll(() => {
  for (const r of running) r.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

function vm(args: string[]): CliRun {
  const r = runCli(args);
  running.add(r);
  void r.exit.then(() => running.delete(r));
  return r;
}

describe.skipIf(!haveApt)('npm run images', () => {
  it('builds debian-busybox from Debian packages: valid files, registered, one progress line per step', async () => {
    const dir = builtinDir(dataDir, 'debian-busybox');
    const m = readManifest(dir)!;
    expect(m).toMatchObject({ kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'console=ttyS0 console=tty0', runsOn: 'hardware-kvm' });
    expect(m.source.kernel).toMatch(/^linux-image-\S+-amd64 /);
    expect(checkKernel(path.join(dir, 'vmlinuz'))).toBe('bzImage');
    expect(() => checkInitrd(path.join(dir, 'initrd.img'))).not.toThrow();
    expect(m.description).toMatch(/PVM host/);
    // Not a terminal here: one line per step, numbered.
    expect(output).toMatch(/^images: \[\d+\/\d+\] Image debian-busybox: /m);
    expect(output).toMatch(/^images: \[\d+\/\d+\] Registering the images in the catalog: test-guest, debian-busybox/m);

    const db = await createDb(databaseUrl);
    try {
      const rows = await db.image.findMany({ orderBy: { name: 'asc' } });
      expect(rows.map((r) => [r.name, r.builtin])).toEqual([['debian-busybox', true], ['test-guest', true]]);
      expect(rows[0]!.kernelPath).toBe(path.join(dir, 'vmlinuz'));
      expect(rows[1]!.kernelPath).toBe(path.join(builtinDir(dataDir, 'test-guest'), 'guest.elf'));
    } finally {
      await db.$disconnect();
    }
  });

  it('runs again in seconds without rebuilding anything', () => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(ROOT_DIR, 'scripts/images.mjs'), '--cache', CACHE, '--skip-guest'], {
      cwd: ROOT_DIR, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Image debian-busybox: up to date/);
    expect(r.stderr).toMatch(/Downloading linux-image-\S+ \S+: cached/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it.skipIf(!kvmUsable())('its kernel boots on our VMM to `Linux version` on COM1 with the image\'s initrd and command line', async () => {
    const dir = builtinDir(dataDir, 'debian-busybox');
    const m = readManifest(dir)!;
    const vmlinux = path.join(dataDir, 'vmlinux');
    writeFileSync(vmlinux, extractVmlinux(readFileSync(path.join(dir, 'vmlinuz'))));
    expect(statSync(vmlinux).size).toBeGreaterThan(statSync(path.join(dir, 'vmlinuz')).size);
    const r = vm(['--kernel', vmlinux, '--initrd', path.join(dir, 'initrd.img'), '--memory', '256', '--framebuffer', 'none', '--cmdline', `${m.cmdline} earlyprintk=serial`]);
    const version = await r.serial.wait(/Linux version (\S+) /, 90_000);
    r.child.kill('SIGTERM');
    await r.exit;
    expect(m.source.kernel).toContain(version[1]!.replace(/-amd64$/, ''));
  }, 120_000);

  it.skipIf(!kvmUsable())('userspace: the image itself reaches its busybox shell (hardware KVM only)', async (ctx) => {
    const hw = hardwareKvm();
    if (!hw.ok) {
      process.stderr.write(`images-test: skipping the userspace boot: ${hw.why}\n`);
      ctx.skip();
      return;
    }
    const dir = builtinDir(dataDir, 'debian-busybox');
    const m = readManifest(dir)!;
    const r = vm(['--kernel', path.join(dir, 'vmlinuz'), '--initrd', path.join(dir, 'initrd.img'), '--memory', String(m.minMemoryMiB), '--cmdline', `${m.cmdline} panic=-1`]);
    await r.serial.wait(new RegExp(USERSPACE_MARKER), 60_000);
    await r.serial.wait(/kvmpanel:\/# /, 20_000);
    r.send('poweroff\r');
    expect(await r.exit, r.stderr()).toBe(0);
  }, 120_000);
});
