// The busybox initramfs of the built-in Linux images. /init mounts proc,
// sys and dev, loads the kernel modules the VM's devices need (virtio-mmio
// and virtio-blk/net/input/rng are modules in Debian's kernel), prints a
// marker on the serial port and the screen, then either switches to a root
// disk (`root=/dev/vda` on the command line: the "debian" image) or runs
// busybox init, which keeps a root shell on ttyS0 and on tty1 (the
// framebuffer console that `console=tty0` shows) and powers off on
// `poweroff` or Ctrl-Alt-Del (the panel's graceful stop).
import { gzipSync } from 'node:zlib';
import { cpioNewc, type CpioEntry } from './cpio';

export const USERSPACE_MARKER = 'kvmpanel-busybox: userspace ok';

/** The modules the images load, by name; their dependencies are added by loadOrder(). */
// virtio_pci too: our VMM offers virtio-mmio, but the images then also boot on VMMs with virtio-pci (QEMU q35).
// crc32c_generic: ext4 asks the crypto API for crc32c (a soft dependency, not in depends=).
export const WANTED_MODULES = ['virtio_mmio', 'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_input', 'virtio_rng', 'crc32c_generic', 'ext4'];

export const INIT = `#!/bin/busybox sh
# Early userspace of the kvmpanel busybox images (written by npm run images).
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
# /dev/console is the last console= (the screen): say things on the serial port too.
say() { for t in /dev/ttyS0 /dev/tty0; do echo "$*" > $t 2>/dev/null; done; }
for m in $(cat /etc/modules); do
  insmod /lib/modules/$m.ko 2>/dev/null || say "init: could not load the module $m"
done
hostname kvmpanel
root=
for arg in $(cat /proc/cmdline); do
  case "$arg" in root=*) root="\${arg#root=}" ;; esac
done
if [ -n "$root" ]; then
  i=0
  while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  mkdir -p /newroot
  # /sbin/init is usually an absolute symlink (to /lib/systemd/systemd): test it inside the new root.
  if mount -t ext4 -o rw "$root" /newroot && chroot /newroot test -x /sbin/init; then
    say "init: switching to $root"
    umount /dev/pts
    mount --move /dev /newroot/dev
    mount --move /sys /newroot/sys
    mount --move /proc /newroot/proc
    exec switch_root /newroot /sbin/init
  fi
  say "init: cannot mount $root (ext4 with /sbin/init): staying in the initramfs"
fi
say "${USERSPACE_MARKER} ($(uname -r))"
exec /sbin/init
`;

export const INITTAB = `# busybox init: a root shell on the serial port and on the screen.
ttyS0::respawn:/bin/cttyhack /bin/sh -l
tty1::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/bin/poweroff
::shutdown:/bin/sync
`;

export const PROFILE = `export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='\\h:\\w# '
echo "kvmpanel busybox shell. 'poweroff' (or 'poweroff -f') stops the VM."
`;

export interface InitramfsInput {
  busybox: Buffer;
  /** Modules in load order (dependencies first). */
  modules: { name: string; data: Buffer }[];
}

export function initramfsEntries(input: InitramfsInput): CpioEntry[] {
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'newroot', 'lib', 'lib/modules']) {
    entries.push({ type: 'dir', name: d, mode: d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755 });
  }
  // The kernel opens /dev/console for /init before anything can mount devtmpfs.
  entries.push({ type: 'chardev', name: 'dev/console', major: 5, minor: 1, mode: 0o600 });
  entries.push({ type: 'file', name: 'bin/busybox', data: input.busybox, mode: 0o755 });
  entries.push({ type: 'symlink', name: 'bin/sh', target: 'busybox' });
  entries.push({ type: 'symlink', name: 'sbin/init', target: '../bin/busybox' });
  entries.push({ type: 'file', name: 'init', data: Buffer.from(INIT), mode: 0o755 });
  entries.push({ type: 'file', name: 'etc/inittab', data: Buffer.from(INITTAB) });
  entries.push({ type: 'file', name: 'etc/profile', data: Buffer.from(PROFILE) });
  entries.push({ type: 'file', name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') });
  entries.push({ type: 'file', name: 'etc/group', data: Buffer.from('root:x:0:\n') });
  entries.push({ type: 'file', name: 'etc/modules', data: Buffer.from(input.modules.map((m) => `${m.name}\n`).join('')) });
  for (const m of input.modules) entries.push({ type: 'file', name: `lib/modules/${m.name}.ko`, data: m.data, mode: 0o644 });
  return entries;
}

/** The initramfs: newc cpio, gzip-compressed (every Debian kernel has RD_GZIP). */
export function buildInitramfs(input: InitramfsInput): Buffer {
  return gzipSync(cpioNewc(initramfsEntries(input)), { level: 9 });
}
