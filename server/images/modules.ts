// Kernel modules for an initramfs: which .ko files a module needs, read
// from the modules themselves (Debian's kernel package ships no modules.dep;
// depmod makes it at install time). Each .ko is an ELF object whose
// `.modinfo` section holds NUL-separated `key=value` strings, among them
// `depends=a,b` and `name=x`.

/** The `.modinfo` strings of an ELF64 little-endian kernel module. */
export function modinfo(ko: Buffer): Map<string, string[]> {
  const bad = (why: string) => new Error(`not a kernel module: ${why}`);
  if (ko.length < 64 || ko.readUInt32BE(0) !== 0x7f454c46) throw bad('no ELF magic');
  if (ko[4] !== 2 || ko[5] !== 1) throw bad('not ELF64 little-endian');
  const shoff = Number(ko.readBigUInt64LE(0x28));
  const shentsize = ko.readUInt16LE(0x3a);
  const shnum = ko.readUInt16LE(0x3c);
  const shstrndx = ko.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > ko.length || shstrndx >= shnum) throw bad('section table outside the file');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    const offset = Number(ko.readBigUInt64LE(at + 0x18));
    const size = Number(ko.readBigUInt64LE(at + 0x20));
    if (offset + size > ko.length) throw bad(`section ${i} outside the file`);
    return { name: ko.readUInt32LE(at), offset, size };
  };
  const strtab = section(shstrndx);
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameAt = strtab.offset + s.name;
    const nameEnd = ko.indexOf(0, nameAt);
    if (nameEnd < 0 || ko.toString('latin1', nameAt, nameEnd) !== '.modinfo') continue;
    for (const kv of ko.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const key = kv.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), kv.slice(eq + 1)]);
    }
    return out;
  }
  throw bad('no .modinfo section');
}

export function moduleDepends(ko: Buffer): string[] {
  return (modinfo(ko).get('depends')?.[0] ?? '').split(',').filter(Boolean);
}

/** Module names are spelled with '-' or '_' interchangeably (virtio-rng.ko is "virtio_rng"). */
export const canonicalModule = (name: string) => name.replace(/-/g, '_');

/**
 * The load order for `wanted` and everything they depend on: dependencies
 * first, each module once. `depends(name)` gives a module's direct
 * dependencies (undefined: no such module, an error naming who wanted it).
 */
export function loadOrder(wanted: string[], depends: (name: string) => string[] | undefined): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, by: string | null) => {
    const n = canonicalModule(name);
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') throw new Error(`module dependency cycle through ${n}`);
    const deps = depends(n);
    if (!deps) throw new Error(`module ${n} not found${by ? ` (needed by ${by})` : ''}`);
    state.set(n, 'visiting');
    for (const d of deps) visit(d, n);
    state.set(n, 'done');
    order.push(n);
  };
  for (const w of wanted) visit(w, null);
  return order;
}
