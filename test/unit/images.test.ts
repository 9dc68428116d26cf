import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDiskTemplate, checkInitrd, checkKernel } from '../../server/images/validate';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-img-'));
function file(name: string, bytes: Buffer) {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
function bzImage(version: number, xloadflags: number) {
  const b = Buffer.alloc(8192);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(version, 0x206);
  b.writeUInt16LE(xloadflags, 0x236);
  return b;
}
function pvhElf(withNote: boolean) {
  const b = Buffer.alloc(4096);
  b.writeUInt32BE(0x7f454c46, 0);
  if (withNote) {
    b.writeUInt32LE(4, 512); b.writeUInt32LE(8, 516); b.writeUInt32LE(18, 520); b.write('Xen\0', 524, 'latin1');
  }
  return b;
}

describe('image file checks', () => {
  it('accepts 64-bit bzImages and PVH ELF kernels', () => {
    expect(checkKernel(file('bz', bzImage(0x020f, 1)))).toBe('bzImage');
    expect(checkKernel(file('pvh', pvhElf(true)))).toBe('pvh-elf');
  });

  it('refuses other kernels with a message saying what is wrong', () => {
    expect(() => checkKernel(file('old', bzImage(0x020a, 1)))).toThrow(/boot protocol 2\.10 is too old/);
    expect(() => checkKernel(file('32', bzImage(0x020f, 0)))).toThrow(/no 64-bit entry point/);
    expect(() => checkKernel(file('elf', pvhElf(false)))).toThrow(/without a PVH entry note/);
    expect(() => checkKernel(file('txt', Buffer.alloc(4096, 'a')))).toThrow(/not a kernel/);
    expect(() => checkKernel(file('tiny', Buffer.from('HdrS')))).toThrow(/too small/);
    expect(() => checkKernel(path.join(dir, 'missing'))).toThrow(/no such file/);
    expect(() => checkKernel(dir)).toThrow(/not a regular file/);
  });

  it('checks initrds and raw disks', () => {
    expect(() => checkInitrd(file('cpio', Buffer.from('070701000000')))).not.toThrow();
    expect(() => checkInitrd(file('gz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])))).not.toThrow();
    expect(() => checkInitrd(file('junk', Buffer.from('hello world')))).toThrow(/not an initramfs/);
    expect(checkDiskTemplate(file('raw', Buffer.alloc(1024)))).toBe(1024);
    expect(() => checkDiskTemplate(file('odd', Buffer.alloc(1000)))).toThrow(/512-byte sectors/);
    expect(() => checkDiskTemplate(file('qcow', Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(508)])))).toThrow(/qcow2.*convert/);
  });
});
