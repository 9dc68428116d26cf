// The pieces `npm run images` is made of: the newc cpio writer, the
// initramfs layout, module dependencies from .modinfo, catalog ordering per
// host, the sparse upload writer and the progress display.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cpioNewc, readCpioNewc } from '../../server/images/cpio';
import { buildInitramfs, INIT, USERSPACE_MARKER } from '../../server/images/initramfs';
import { loadOrder, modinfo, moduleDepends } from '../../server/images/modules';
import { catalogOrder, runsOnHost, runsOnOf } from '../../server/images/catalog';
import { formatTransfer, Progress } from '../../server/images/progress';
import { writeSparse } from '../../server/images/upload';
import { checkInitrd } from '../../server/images/validate';

/** A minimal ELF64 relocatable object with a .shstrtab and a .modinfo section. */
function fakeModule(info: string[]): Buffer {
  const shstr = Buffer.from('\0.shstrtab\0.modinfo\0');
  const mod = Buffer.from(info.map((s) => `${s}\0`).join(''));
  const dataOff = 64;
  const shoff = (dataOff + shstr.length + mod.length + 7) & ~7;
  const b = Buffer.alloc(shoff + 3 * 64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; b[5] = 1; b[6] = 1;
  b.writeBigUInt64LE(BigInt(shoff), 0x28);
  b.writeUInt16LE(64, 0x3a);
  b.writeUInt16LE(3, 0x3c);
  b.writeUInt16LE(1, 0x3e);
  shstr.copy(b, dataOff);
  mod.copy(b, dataOff + shstr.length);
  const sect = (i: number, name: number, off: number, size: number) => {
    const at = shoff + i * 64;
    b.writeUInt32LE(name, at);
    b.writeBigUInt64LE(BigInt(off), at + 0x18);
    b.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  sect(1, 1, dataOff, shstr.length);
  sect(2, 11, dataOff + shstr.length, mod.length);
  return b;
}

describe('newc cpio', () => {
  it('writes what the kernel unpacks: headers, names and data 4-byte aligned, a trailer', () => {
    const data = Buffer.from('hello\n');
    const a = cpioNewc([
      { type: 'dir', name: 'etc' },
      { type: 'file', name: 'etc/x', data, mode: 0o600 },
      { type: 'symlink', name: 'bin/sh', target: 'busybox' },
      { type: 'chardev', name: 'dev/console', major: 5, minor: 1 },
    ]);
    expect(a.toString('latin1', 0, 6)).toBe('070701');
    expect(a.length % 4).toBe(0);
    expect(a.toString('latin1').endsWith('TRAILER!!!\0\0\0\0') || a.toString('latin1').includes('TRAILER!!!\0')).toBe(true);
    const m = readCpioNewc(a);
    expect(m.map((e) => [e.name, e.mode.toString(8)])).toEqual([['etc', '40755'], ['etc/x', '100600'], ['bin/sh', '120777'], ['dev/console', '20600']]);
    expect(m[1]!.data.equals(data)).toBe(true);
    expect(m[2]!.data.toString()).toBe('busybox');
    expect(m[3]!.rdev).toEqual([5, 1]);
    // Header field layout: c_filesize is the 7th field (offset 54), c_namesize the 12th (offset 94).
    const second = a.indexOf('070701', 6, 'latin1');
    expect(Number.parseInt(a.toString('latin1', second + 54, second + 62), 16)).toBe(data.length);
    expect(Number.parseInt(a.toString('latin1', second + 94, second + 102), 16)).toBe('etc/x'.length + 1);
    expect(cpioNewc([{ type: 'dir', name: 'a' }]).equals(cpioNewc([{ type: 'dir', name: 'a' }]))).toBe(true);
  });

  it('refuses names that would escape or collide', () => {
    for (const name of ['/etc', '../x', 'a//b', '', 'a/../b']) expect(() => cpioNewc([{ type: 'dir', name }])).toThrow(/bad entry name/);
    expect(() => cpioNewc([{ type: 'dir', name: 'a' }, { type: 'dir', name: 'a' }])).toThrow(/duplicate/);
  });
});

describe('busybox initramfs', () => {
  it('has busybox, /init, inittab shells on ttyS0 and tty1, /dev/console and the modules in load order', () => {
    const busybox = Buffer.from('\x7fELF fake busybox');
    const gz = buildInitramfs({ busybox, modules: [{ name: 'virtio', data: Buffer.from('v') }, { name: 'virtio_mmio', data: Buffer.from('m') }] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-initrd-'));
    const file = path.join(dir, 'initrd.img');
    writeFileSync(file, gz);
    expect(() => checkInitrd(file)).not.toThrow();
    const m = new Map(readCpioNewc(gunzipSync(readFileSync(file))).map((e) => [e.name, e]));
    expect(m.get('bin/busybox')!.data.equals(busybox)).toBe(true);
    expect(m.get('init')!.mode & 0o111).toBeTruthy();
    expect(m.get('init')!.data.toString()).toContain(USERSPACE_MARKER);
    expect(m.get('dev/console')!.rdev).toEqual([5, 1]);
    expect(m.get('etc/modules')!.data.toString()).toBe('virtio\nvirtio_mmio\n');
    expect(m.get('lib/modules/virtio_mmio.ko')!.data.toString()).toBe('m');
    const inittab = m.get('etc/inittab')!.data.toString();
    expect(inittab).toMatch(/^ttyS0::respawn:.*cttyhack \/bin\/sh/m);
    expect(inittab).toMatch(/^tty1::respawn:.*cttyhack \/bin\/sh/m);
    expect(inittab).toMatch(/^::ctrlaltdel:\/bin\/poweroff$/m);
    expect(m.get('sbin/init')!.data.toString()).toBe('../bin/busybox');
    expect(INIT).toMatch(/mount -t devtmpfs devtmpfs \/dev/);
    expect(INIT).toMatch(/switch_root \/newroot \/sbin\/init/);
  });
});

describe('kernel module dependencies', () => {
  it('reads depends= from .modinfo', () => {
    const ko = fakeModule(['license=GPL', 'depends=virtio,virtio_ring', 'name=virtio_mmio']);
    expect(moduleDepends(ko)).toEqual(['virtio', 'virtio_ring']);
    expect(modinfo(ko).get('name')).toEqual(['virtio_mmio']);
    expect(moduleDepends(fakeModule(['depends=']))).toEqual([]);
    expect(() => modinfo(Buffer.alloc(100))).toThrow(/no ELF magic/);
  });

  it('orders dependencies first, once each, and names what is missing', () => {
    const deps: Record<string, string[]> = { virtio_net: ['virtio_ring', 'virtio', 'net_failover'], net_failover: ['failover'], failover: [], virtio: [], virtio_ring: [], virtio_mmio: ['virtio', 'virtio_ring'] };
    const order = loadOrder(['virtio_mmio', 'virtio-net'], (n) => deps[n]);
    expect(order).toEqual(['virtio', 'virtio_ring', 'virtio_mmio', 'failover', 'net_failover', 'virtio_net']);
    expect(() => loadOrder(['a'], (n) => ({ a: ['b'] } as Record<string, string[]>)[n])).toThrow(/module b not found \(needed by a\)/);
    expect(() => loadOrder(['a'], (n) => ({ a: ['b'], b: ['a'] } as Record<string, string[]>)[n])).toThrow(/cycle/);
  });
});

describe('catalog per host', () => {
  const images = [
    { name: 'debian-busybox', kind: 'linux', builtin: true },
    { name: 'mine', kind: 'linux', builtin: false },
    { name: 'test-guest', kind: 'test-guest', builtin: true },
    { name: 'debian', kind: 'debian', builtin: true },
  ];
  it('keeps the test guest first (the default) on PVM hosts, Debian first on hardware KVM', () => {
    expect(catalogOrder(images, 'pvm').map((i) => i.name)).toEqual(['test-guest', 'mine', 'debian-busybox', 'debian']);
    expect(catalogOrder(images, 'none')[0]!.name).toBe('test-guest');
    expect(catalogOrder(images, 'hardware').map((i) => i.name)).toEqual(['debian', 'debian-busybox', 'test-guest', 'mine']);
  });
  it('says where each image runs', () => {
    expect(runsOnOf({ kind: 'test-guest', builtin: true })).toBe('any');
    expect(runsOnOf({ kind: 'linux', builtin: true })).toBe('hardware-kvm');
    expect(runsOnOf({ kind: 'linux', builtin: false })).toBe('unknown');
    expect(runsOnHost('hardware-kvm', 'pvm')).toBe(false);
    expect(runsOnHost('hardware-kvm', 'hardware')).toBe(true);
    expect(runsOnHost('any', 'pvm')).toBe(true);
    expect(runsOnHost('unknown', 'pvm')).toBe(null);
  });
});

describe('sparse writes', () => {
  it('leaves all-zero blocks as holes and keeps the bytes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-sparse-'));
    const file = path.join(dir, 'disk');
    const data = Buffer.alloc(4 * 2 ** 20);
    data.fill(7, 100, 5000);          // spans the first two blocks
    data.fill(9, 3 * 2 ** 20, 3 * 2 ** 20 + 10);
    const fh = await open(file, 'w');
    // Odd chunk boundaries, as a socket delivers them.
    for (let pos = 0; pos < data.length;) {
      const n = Math.min(data.length - pos, 65_537 + (pos % 3));
      await writeSparse(fh, data.subarray(pos, pos + n), pos);
      pos += n;
    }
    await fh.truncate(data.length);
    await fh.close();
    expect(readFileSync(file).equals(data)).toBe(true);
    expect(statSync(file).blocks * 512).toBeLessThanOrEqual(64 * 1024);
  });
});

describe('progress display', () => {
  const sink = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, s: { isTTY, columns: 200, write: (x: string) => out.push(x) } };
  };
  it('prints one line per step without a terminal', () => {
    const { out, s } = sink(false);
    const p = new Progress(s, 2);
    p.step('Downloading x');
    p.update(formatTransfer(5 * 2 ** 20, 10 * 2 ** 20));
    p.update('more');
    p.step('Second');
    p.done('ok');
    expect(out.join('').split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^images: \[1\/2\] Downloading x: more \(\d+\.\d s\)$/),
      expect.stringMatching(/^images: \[2\/2\] Second: ok \(\d+\.\d s\)$/),
    ]);
  });
  it('redraws the line in place on a terminal, with byte counts and a percentage', () => {
    const { out, s } = sink(true);
    const p = new Progress(s, 1);
    p.step('Downloading x');
    p.update(formatTransfer(3 * 2 ** 20, 12 * 2 ** 20), true);
    p.done();
    const text = out.join('');
    expect(text).toContain('\r\x1b[K');
    expect(text).toContain('3.0 MiB / 12.0 MiB (25%)');
    expect(text.endsWith('\n')).toBe(true);
  });
});
