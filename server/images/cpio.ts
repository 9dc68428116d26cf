// The "newc" cpio format (magic 070701), the one the kernel unpacks an
// initramfs from: a 110-byte ASCII-hex header per entry, the NUL-terminated
// name, data, each padded to 4 bytes, ended by a "TRAILER!!!" entry.
// Written here so building an initramfs needs no host tool and no root.

export type CpioEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; data: Buffer; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'chardev'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio: field out of range (${n})`);
  return n.toString(16).padStart(8, '0');
}

function checkName(name: string): void {
  // Relative paths only: the kernel unpacks into / and a name with ".." or a leading "/" is a mistake here.
  if (!name || name.startsWith('/') || name.split('/').some((p) => p === '..' || p === '') || name.includes('\0')) {
    throw new Error(`cpio: bad entry name ${JSON.stringify(name)}`);
  }
}

/** One newc archive. mtime is fixed (0) so the same inputs give the same bytes. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    off += b.length;
  };
  const pad4 = () => {
    if (off % 4) push(Buffer.alloc(4 - (off % 4)));
  };
  const write = (ino: number, name: string, mode: number, data: Buffer, rdev: [number, number]) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const nlink = (mode & 0o170000) === S_IFDIR ? 2 : 1;
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    push(Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1'));
    push(nameBytes);
    pad4();
    push(data);
    pad4();
  };
  let ino = 1;
  const seen = new Set<string>();
  for (const e of entries) {
    checkName(e.name);
    if (seen.has(e.name)) throw new Error(`cpio: duplicate entry ${e.name}`);
    seen.add(e.name);
    switch (e.type) {
      case 'dir': write(ino++, e.name, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), [0, 0]); break;
      case 'file': write(ino++, e.name, S_IFREG | (e.mode ?? 0o644), e.data, [0, 0]); break;
      case 'symlink': write(ino++, e.name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), [0, 0]); break;
      case 'chardev': write(ino++, e.name, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), [e.major, e.minor]); break;
    }
  }
  write(0, 'TRAILER!!!', 0, Buffer.alloc(0), [0, 0]);
  return Buffer.concat(parts);
}

export interface CpioMember {
  name: string;
  mode: number;
  data: Buffer;
  rdev: [number, number];
}

/** Reads a newc archive back (tests, and a check of what was written). */
export function readCpioNewc(buf: Buffer): CpioMember[] {
  const out: CpioMember[] = [];
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    if (off + 110 > buf.length) throw new Error('cpio: truncated header');
    const magic = buf.toString('latin1', off, off + 6);
    if (magic !== '070701' && magic !== '070702') throw new Error(`cpio: bad magic at ${off}`);
    const field = (i: number) => Number.parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdev: [number, number] = [field(9), field(10)];
    const nameSize = field(11);
    const nameStart = off + 110;
    if (nameSize < 1 || nameStart + nameSize > buf.length) throw new Error('cpio: bad name size');
    const name = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = align(nameStart + nameSize);
    if (dataStart + size > buf.length) throw new Error(`cpio: ${name}: data past the end`);
    off = align(dataStart + size);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data: buf.subarray(dataStart, dataStart + size), rdev });
  }
}
