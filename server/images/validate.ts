// Early checks of image files an admin imports, so a wrong file is refused
// at import with a message saying what is wrong (the VMM's boot layer still
// checks everything again, fully, when a VM starts).
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export class ImageFileError extends Error {}

function head(path: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ImageFileError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function regularFile(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new ImageFileError(`${path}: no such file`);
  if (!st.isFile()) throw new ImageFileError(`${path}: not a regular file`);
  return st.size;
}

export type KernelKind = 'bzImage' | 'pvh-elf';

/** A Linux bzImage with a 64-bit entry (boot protocol 2.12+), or an ELF kernel with a PVH entry note. */
export function checkKernel(path: string): KernelKind {
  const size = regularFile(path);
  if (size < 1024) throw new ImageFileError(`${path}: too small to be a kernel (${size} bytes)`);
  if (size > 512 * 2 ** 20) throw new ImageFileError(`${path}: too large for a kernel (${Math.round(size / 2 ** 20)} MiB)`);
  const h = head(path, 64 * 1024);
  if (h.toString('latin1', 0x202, 0x206) === 'HdrS') {
    const version = h.readUInt16LE(0x206);
    if (version < 0x020c) throw new ImageFileError(`${path}: Linux boot protocol ${version >> 8}.${version & 0xff} is too old (needs 2.12 or newer)`);
    const xloadflags = h.readUInt16LE(0x236);
    if (!(xloadflags & 1)) throw new ImageFileError(`${path}: this bzImage has no 64-bit entry point (a 32-bit kernel?)`);
    return 'bzImage';
  }
  if (h.readUInt32BE(0) === 0x7f454c46) {
    // The PVH note's name "Xen" followed by type 18 (XEN_ELFNOTE_PHYS32_ENTRY) somewhere in the headers' notes.
    const note = Buffer.from([4, 0, 0, 0]);
    for (let i = h.indexOf(note); i >= 0 && i + 16 <= h.length; i = h.indexOf(note, i + 1)) {
      if (h.readUInt32LE(i + 8) === 18 && h.toString('latin1', i + 12, i + 15) === 'Xen') return 'pvh-elf';
    }
    throw new ImageFileError(`${path}: an ELF file without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): use a bzImage or a kernel built with CONFIG_PVH`);
  }
  throw new ImageFileError(`${path}: not a kernel (neither a Linux bzImage nor an ELF file)`);
}

/** An initramfs: cpio (newc), possibly compressed. */
export function checkInitrd(path: string): void {
  const size = regularFile(path);
  if (size === 0) throw new ImageFileError(`${path}: empty`);
  const h = head(path, 8);
  const magics: [string, (b: Buffer) => boolean][] = [
    ['cpio', (b) => b.toString('latin1', 0, 6) === '070701' || b.toString('latin1', 0, 6) === '070702'],
    ['gzip', (b) => b[0] === 0x1f && b[1] === 0x8b],
    ['xz', (b) => b.readUInt32BE(0) === 0xfd377a58],
    ['zstd', (b) => b.readUInt32LE(0) === 0xfd2fb528],
    ['lz4', (b) => b.readUInt32LE(0) === 0x184c2102 || b.readUInt32LE(0) === 0x184d2204],
    ['bzip2', (b) => b.toString('latin1', 0, 3) === 'BZh'],
  ];
  if (!magics.some(([, test]) => h.length >= 4 && test(h))) throw new ImageFileError(`${path}: not an initramfs (expected cpio, possibly gzip/xz/zstd/lz4/bzip2-compressed)`);
}

/** A raw disk image: a whole number of 512-byte sectors; other formats are refused by name. */
export function checkDiskTemplate(path: string): number {
  const size = regularFile(path);
  const h = head(path, 8);
  if (h.toString('latin1', 0, 4) === 'QFI\xfb') throw new ImageFileError(`${path}: a qcow2 image; convert it to raw first (qemu-img convert -O raw IN OUT)`);
  if (h.toString('latin1', 0, 8) === 'conectix' || h.toString('latin1', 0, 8) === 'vhdxfile') throw new ImageFileError(`${path}: a VHD/VHDX image; convert it to raw first`);
  if (h.toString('latin1', 0, 4) === 'KDMV') throw new ImageFileError(`${path}: a VMDK image; convert it to raw first`);
  if (size === 0 || size % 512 !== 0) throw new ImageFileError(`${path}: a raw disk must be a non-empty whole number of 512-byte sectors (${size} bytes)`);
  return size;
}
