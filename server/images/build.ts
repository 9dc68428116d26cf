// `npm run images` (scripts/images.mjs runs this with tsx): makes the
// built-in images from Debian packages only and registers them.
//   test-guest      the project's own guest (npm run guest), boots everywhere
//   debian-busybox  Debian's stock kernel + a busybox initramfs (shell on ttyS0 and the screen)
//   debian          (--debian) a Debian root filesystem (debootstrap) on a sparse ext4 disk
// Downloads are cached (by package name and version) under --cache DIR
// (default DATA_DIR/images/.cache), and an image whose sources did not change
// is not rebuilt, so re-running is fast.
import { copyFile, open, stat } from 'node:fs/promises';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadConfig, ROOT_DIR } from '../config';
import { builtinDir, imagesDir, PVM_NOTE, readManifest, type ImageManifest } from './catalog';
import { aptDownload, aptShow, debExtract, debList, must, resolveKernelPackage, sh, type DebPackage } from './debian';
import { buildInitramfs, WANTED_MODULES } from './initramfs';
import { canonicalModule, loadOrder, moduleDepends } from './modules';
import { formatBytes, formatTransfer, Progress } from './progress';
import { installTestGuest, writeManifest } from './register';
import { checkDiskTemplate, checkInitrd, checkKernel } from './validate';

export interface BuildOptions {
  dataDir: string;
  cacheDir: string;
  debian: boolean;
  /** Skip `npm run guest` (tests that only want the Linux image). */
  skipGuest?: boolean;
  force?: boolean;
  progress: Progress;
}

export const BUSYBOX_CMDLINE = 'console=ttyS0 console=tty0';
export const DEBIAN_CMDLINE = 'console=ttyS0 console=tty0 root=/dev/vda rw net.ifnames=0';
export const DEBIAN_SUITE = 'bookworm';
const DEBIAN_DISK_BYTES = 2 * 2 ** 30;
/** Bumped when the initramfs layout or /init changes, so `npm run images` rebuilds. */
const INITRAMFS_VERSION = '4';

/** Copies a file, reporting bytes as they go. */
async function copyWithProgress(from: string, to: string, p: Progress): Promise<number> {
  const total = (await stat(from)).size;
  const src = await open(from, 'r');
  const dst = await open(`${to}.tmp`, 'w');
  const buf = Buffer.alloc(1 << 20);
  let done = 0;
  try {
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, done);
      if (!bytesRead) break;
      await dst.write(buf, 0, bytesRead, done);
      done += bytesRead;
      p.update(formatTransfer(done, total));
    }
  } finally {
    await src.close();
    await dst.close();
  }
  renameSync(`${to}.tmp`, to);
  return done;
}

async function download(pkg: DebPackage, opts: BuildOptions): Promise<string> {
  const p = opts.progress;
  p.step(`Downloading ${pkg.name} ${pkg.version}`);
  const r = await aptDownload(pkg, path.join(opts.cacheDir, 'debs'), (n) => p.update(formatTransfer(n, pkg.size)));
  p.done(r.cached ? `cached (${formatBytes(statSync(r.file).size)})` : formatBytes(statSync(r.file).size));
  return r.file;
}

interface KernelFiles {
  release: string;
  vmlinuz: string;
  modules: { name: string; data: Buffer }[];
}

/**
 * The bzImage and the modules the images load (with their dependencies,
 * found from each module's .modinfo), taken out of the kernel package once
 * per version and kept in the cache.
 */
function kernelFiles(deb: string, pkg: DebPackage, opts: BuildOptions): KernelFiles {
  const p = opts.progress;
  const dir = path.join(opts.cacheDir, 'kernel', `${pkg.name}_${pkg.version}`);
  const done = path.join(dir, 'modules.order');
  const wanted = path.join(dir, 'modules.wanted');
  if (!existsSync(done) || !existsSync(wanted) || readFileSync(wanted, 'utf8') !== WANTED_MODULES.join(',')) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    p.update('listing the package');
    const members = debList(deb);
    const vmlinuz = members.find((m) => /^\.\/boot\/vmlinuz-/.test(m));
    if (!vmlinuz) throw new Error(`${path.basename(deb)} has no /boot/vmlinuz-*`);
    const byName = new Map<string, string>();
    for (const m of members) {
      const k = /^\.\/(?:usr\/)?lib\/modules\/[^/]+\/kernel\/.*\/([^/]+)\.ko$/.exec(m);
      if (k) byName.set(canonicalModule(k[1]!), m);
    }
    const tree = path.join(dir, 'tree');
    const deps = new Map<string, string[]>();
    // Dependencies are only known once a module is unpacked: unpack in rounds until closed.
    let want = [vmlinuz, ...WANTED_MODULES.map((w) => byName.get(canonicalModule(w))).filter((m): m is string => !!m)];
    for (let round = 0; want.length; round++) {
      p.update(`unpacking ${want.length} file(s), round ${round + 1}`);
      debExtract(deb, tree, want);
      want = [];
      for (const [name, member] of byName) {
        const file = path.join(tree, member);
        if (deps.has(name) || !existsSync(file)) continue;
        const d = moduleDepends(readFileSync(file)).map(canonicalModule);
        deps.set(name, d);
        for (const dep of d) if (!deps.has(dep) && byName.has(dep) && !existsSync(path.join(tree, byName.get(dep)!))) want.push(byName.get(dep)!);
      }
      want = [...new Set(want)];
    }
    const order = loadOrder(WANTED_MODULES.filter((w) => byName.has(canonicalModule(w))), (n) => deps.get(n));
    mkdirSync(path.join(dir, 'modules'), { recursive: true });
    for (const n of order) renameSync(path.join(tree, byName.get(n)!), path.join(dir, 'modules', `${n}.ko`));
    renameSync(path.join(tree, vmlinuz), path.join(dir, 'vmlinuz'));
    writeFileSync(path.join(dir, 'release'), vmlinuz.replace('./boot/vmlinuz-', ''));
    rmSync(tree, { recursive: true, force: true });
    writeFileSync(done, order.map((n) => `${n}\n`).join(''));
    writeFileSync(wanted, WANTED_MODULES.join(','));
  }
  const order = readFileSync(done, 'utf8').split('\n').filter(Boolean);
  return {
    release: readFileSync(path.join(dir, 'release'), 'utf8').trim(),
    vmlinuz: path.join(dir, 'vmlinuz'),
    modules: order.map((name) => ({ name, data: readFileSync(path.join(dir, 'modules', `${name}.ko`)) })),
  };
}

function upToDate(dir: string, source: Record<string, string>, force?: boolean): boolean {
  if (force) return false;
  const m = readManifest(dir);
  if (!m) return false;
  const files = [m.kernel, m.initrd, m.disk].filter((f): f is string => !!f);
  return JSON.stringify(m.source) === JSON.stringify(source) && files.every((f) => existsSync(path.join(dir, f)));
}

export interface LinuxParts { kernelPkg: DebPackage; busyboxPkg: DebPackage; kernelDeb: string; kernel: KernelFiles; busybox: Buffer }

async function linuxParts(opts: BuildOptions): Promise<LinuxParts> {
  const p = opts.progress;
  p.step('Finding Debian packages (linux-image-amd64, busybox-static)');
  const kernelPkg = aptShow(resolveKernelPackage());
  const busyboxPkg = aptShow('busybox-static');
  p.done(`${kernelPkg.name} ${kernelPkg.version}, busybox-static ${busyboxPkg.version}`);
  const kernelDeb = await download(kernelPkg, opts);
  const busyboxDeb = await download(busyboxPkg, opts);

  p.step('Taking the kernel and its virtio modules out of the package');
  const kernel = kernelFiles(kernelDeb, kernelPkg, opts);
  p.done(`${kernel.release}: vmlinuz ${formatBytes(statSync(kernel.vmlinuz).size)}, modules ${kernel.modules.map((m) => m.name).join(' ')}`);

  const bbDir = path.join(opts.cacheDir, 'busybox', busyboxPkg.version.replace(/[^\w.+~-]/g, '_'));
  const bbFile = path.join(bbDir, 'bin', 'busybox');
  if (!existsSync(bbFile)) debExtract(busyboxDeb, bbDir, ['./bin/busybox']);
  return { kernelPkg, busyboxPkg, kernelDeb, kernel, busybox: readFileSync(bbFile) };
}

async function buildBusyboxImage(parts: LinuxParts, opts: BuildOptions): Promise<void> {
  const p = opts.progress;
  const dir = builtinDir(opts.dataDir, 'debian-busybox');
  const source = { kernel: `${parts.kernelPkg.name} ${parts.kernelPkg.version}`, busybox: `busybox-static ${parts.busyboxPkg.version}`, initramfs: INITRAMFS_VERSION };
  p.step('Image debian-busybox');
  if (upToDate(dir, source, opts.force)) {
    p.done('up to date');
    return;
  }
  mkdirSync(dir, { recursive: true });
  p.update('writing the initramfs');
  const initrd = buildInitramfs({ busybox: parts.busybox, modules: parts.kernel.modules });
  writeFileSync(path.join(dir, 'initrd.img.tmp'), initrd);
  renameSync(path.join(dir, 'initrd.img.tmp'), path.join(dir, 'initrd.img'));
  await copyWithProgress(parts.kernel.vmlinuz, path.join(dir, 'vmlinuz'), p);
  // The same checks an admin's import goes through.
  checkKernel(path.join(dir, 'vmlinuz'));
  checkInitrd(path.join(dir, 'initrd.img'));
  const m: ImageManifest = {
    name: 'debian-busybox', kind: 'linux',
    description: `Debian's stock kernel (${parts.kernel.release}) with a busybox initramfs: a root shell on the screen and on the serial console. ${PVM_NOTE}`,
    kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: BUSYBOX_CMDLINE, minMemoryMiB: 128, runsOn: 'hardware-kvm', source,
  };
  writeManifest(dir, m);
  p.done(`vmlinuz ${formatBytes(statSync(path.join(dir, 'vmlinuz')).size)}, initrd.img ${formatBytes(initrd.length)}`);
}

/** Runs a command, turning each output line into a progress update (debootstrap's "I: Retrieving x" lines). */
function runWithLines(cmd: string, args: string[], onLine: (line: string) => void): Promise<{ ok: boolean; tail: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } });
    const tail: string[] = [];
    let partial = '';
    const take = (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        tail.push(l);
        if (tail.length > 30) tail.shift();
        onLine(l);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => resolve({ ok: false, tail: [e.message] }));
    child.on('close', (code) => resolve({ ok: code === 0, tail }));
  });
}

function aptMirror(): string {
  const sources = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f)) : [])];
  for (const f of sources) {
    let text = '';
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+\S+\s+.*main/m.exec(text) ?? /^URIs:\s*(https?:\/\/\S+)/m.exec(text);
    if (m && !/security/.test(m[1]!)) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

async function buildDebianImage(parts: LinuxParts, opts: BuildOptions): Promise<void> {
  const kernelDeb = parts.kernelDeb;
  const p = opts.progress;
  const dir = builtinDir(opts.dataDir, 'debian');
  const debootstrap = aptShow('debootstrap');
  const source = { kernel: `${parts.kernelPkg.name} ${parts.kernelPkg.version}`, busybox: `busybox-static ${parts.busyboxPkg.version}`, suite: DEBIAN_SUITE, debootstrap: debootstrap.version, rootfs: '2', initramfs: INITRAMFS_VERSION };
  p.step('Image debian: sources');
  if (upToDate(dir, source, opts.force)) {
    p.setTotal(p.total - 4);
    p.done('up to date');
    return;
  }
  p.done(`${DEBIAN_SUITE} from ${aptMirror()}, to build`);
  if (!existsSync('/usr/sbin/debootstrap')) throw new Error('debootstrap is not installed: apt-get install -y debootstrap');
  const work = path.join(imagesDir(opts.dataDir), '.build', 'debian');
  const root = path.join(work, 'root');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  try {
    p.step(`debootstrap ${DEBIAN_SUITE} (minbase + systemd)`);
    const debCache = path.join(opts.cacheDir, 'debootstrap');
    mkdirSync(debCache, { recursive: true });
    let n = 0;
    const r = await runWithLines('debootstrap', [
      '--variant=minbase', `--cache-dir=${debCache}`, '--include=systemd-sysv,udev,kmod,iproute2,netbase,ifupdown,isc-dhcp-client,procps,less,nano,ca-certificates',
      DEBIAN_SUITE, root, aptMirror(),
    ], (line) => {
      const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring|Installing) (\S+)/.exec(line);
      if (m) p.update(`${m[1]!.toLowerCase()} ${m[2]} (${++n} steps)`);
    });
    if (!r.ok) throw new Error(`debootstrap failed:\n${r.tail.join('\n')}`);
    p.done(`${n} package steps`);

    p.step('Configuring the root filesystem');
    // The kernel's modules, without drivers for hardware a VM never has.
    debExtract(kernelDeb, root, ['./lib/modules'], {
      keepDirSymlinks: true,
      exclude: ['*/drivers/gpu/*', '*/drivers/media/*', '*/drivers/net/wireless/*', '*/drivers/net/ethernet/*', '*/drivers/infiniband/*', '*/drivers/staging/*', '*/drivers/scsi/*', '*/drivers/usb/*', '*/drivers/bluetooth/*', '*/sound/*', '*/drivers/iio/*', '*/drivers/hid/*', '*/drivers/isdn/*'],
    });
    must(sh('chroot', [root, 'depmod', parts.kernel.release]), 'depmod');
    writeFileSync(path.join(root, 'etc/hostname'), 'debian\n');
    writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    writeFileSync(path.join(root, 'etc/fstab'), '/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n');
    mkdirSync(path.join(root, 'etc/network/interfaces.d'), { recursive: true });
    writeFileSync(path.join(root, 'etc/network/interfaces.d/eth0'), 'allow-hotplug eth0\niface eth0 inet dhcp\n');
    // The VM's disk is the template grown to its size: grow the filesystem with it at boot.
    writeFileSync(path.join(root, 'etc/systemd/system/kvmpanel-growfs.service'), [
      '[Unit]', 'Description=Grow the root filesystem to the disk (kvmpanel)', 'After=local-fs.target', '',
      '[Service]', 'Type=oneshot', 'ExecStart=/sbin/resize2fs /dev/vda', '',
      '[Install]', 'WantedBy=multi-user.target', '',
    ].join('\n'));
    mkdirSync(path.join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    rmSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/kvmpanel-growfs.service'), { force: true });
    must(sh('ln', ['-s', '/etc/systemd/system/kvmpanel-growfs.service', path.join(root, 'etc/systemd/system/multi-user.target.wants/kvmpanel-growfs.service')]), 'enabling growfs');
    // Console logins as root without a password (the owner sets one): only the VM's owner reaches its consoles.
    must(sh('chroot', [root, 'passwd', '-d', 'root']), 'passwd -d root');
    writeFileSync(path.join(root, 'etc/motd'), '\nDebian on kvmpanel. root has no password: set one with `passwd`.\n\n');
    rmSync(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    rmSync(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    const used = Number(must(sh('du', ['-sxb', root]), 'du').split('\t')[0]);
    p.done(`${formatBytes(used)} of files`);

    p.step('Writing the ext4 disk image (mkfs.ext4 -d, sparse)');
    mkdirSync(dir, { recursive: true });
    const disk = path.join(dir, 'disk.img');
    const tmp = `${disk}.tmp`;
    rmSync(tmp, { force: true });
    const size = Math.max(DEBIAN_DISK_BYTES, Math.ceil((used * 1.4 + 256 * 2 ** 20) / 2 ** 30) * 2 ** 30);
    must(sh('truncate', ['-s', String(size), tmp]), 'truncate');
    const timer = setInterval(() => {
      try {
        p.update(`${formatBytes(statSync(tmp).blocks * 512)} written`);
      } catch { /* not there yet */ }
    }, 200);
    const mk = await runWithLines('mkfs.ext4', ['-q', '-F', '-L', 'debian-root', '-d', root, tmp], () => undefined);
    clearInterval(timer);
    if (!mk.ok) throw new Error(`mkfs.ext4 failed:\n${mk.tail.join('\n')}`);
    renameSync(tmp, disk);
    checkDiskTemplate(disk);
    p.done(`${formatBytes(size)} disk, ${formatBytes(statSync(disk).blocks * 512)} allocated`);

    p.step('Image debian');
    await copyFile(path.join(builtinDir(opts.dataDir, 'debian-busybox'), 'initrd.img'), path.join(dir, 'initrd.img'));
    await copyWithProgress(parts.kernel.vmlinuz, path.join(dir, 'vmlinuz'), p);
    writeManifest(dir, {
      name: 'debian', kind: 'debian',
      description: `Debian 12 (${DEBIAN_SUITE}) with systemd on an ext4 disk (${Math.round(size / 2 ** 30)} GiB, grown to the VM's disk at boot), Debian's stock kernel ${parts.kernel.release}. Log in as root without a password on the serial console or the screen, then set one. ${PVM_NOTE}`,
      kernel: 'vmlinuz', initrd: 'initrd.img', disk: 'disk.img', cmdline: DEBIAN_CMDLINE, minMemoryMiB: 256, runsOn: 'hardware-kvm', source,
    });
    p.done('ready');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function buildTestGuest(opts: BuildOptions): Promise<void> {
  const p = opts.progress;
  p.step('Test guest (npm run guest)');
  if (!opts.skipGuest) {
    const r = sh(process.execPath, [path.join(ROOT_DIR, 'scripts/guest.mjs')], { cwd: ROOT_DIR });
    if (!r.ok) throw new Error(`npm run guest failed:\n${r.out.trim().split('\n').slice(-15).join('\n')}`);
  }
  if (!installTestGuest(opts.dataDir)) throw new Error('native/guest/build/guest.elf is missing: run npm run guest');
  p.done(`guest.elf ${formatBytes(statSync(path.join(builtinDir(opts.dataDir, 'test-guest'), 'guest.elf')).size)}`);
}

export async function buildImages(opts: BuildOptions): Promise<void> {
  const p = opts.progress;
  p.setTotal(7 + (opts.debian ? 5 : 0));
  await buildTestGuest(opts);
  const parts = await linuxParts(opts);
  await buildBusyboxImage(parts, opts);
  if (opts.debian) await buildDebianImage(parts, opts);
}

function parseArgs(argv: string[]) {
  const args = { debian: false, force: false, skipGuest: false, cache: process.env.IMAGES_CACHE ?? '', noRegister: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--debian') args.debian = true;
    else if (a === '--force') args.force = true;
    else if (a === '--skip-guest') args.skipGuest = true;
    else if (a === '--no-register') args.noRegister = true;
    else if (a === '--cache') args.cache = argv[++i] ?? '';
    else if (a.startsWith('--cache=')) args.cache = a.slice('--cache='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run images [-- --debian] [--force] [--cache DIR] [--skip-guest] [--no-register]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const progress = new Progress(process.stderr);
  const opts: BuildOptions = {
    dataDir: config.dataDir,
    cacheDir: path.resolve(args.cache || path.join(imagesDir(config.dataDir), '.cache')),
    debian: args.debian,
    force: args.force,
    skipGuest: args.skipGuest,
    progress,
  };
  try {
    await buildImages(opts);
    if (!args.noRegister) {
      progress.step('Registering the images in the catalog');
      const { createDb } = await import('../db/client');
      const { registerBuiltinImages } = await import('./register');
      const db = await createDb(config.databaseUrl);
      try {
        const r = await registerBuiltinImages(db, config.dataDir);
        progress.done(r.registered.join(', ') || 'none');
      } finally {
        await db.$disconnect();
      }
    }
  } catch (e) {
    progress.fail((e as Error).message.split('\n')[0]!);
    process.stderr.write(`images: ${(e as Error).message}\n`);
    process.exit(1);
  }
  progress.note(`images are in ${imagesDir(config.dataDir)}${opts.debian ? '' : ' (add -- --debian for a Debian root filesystem image)'}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) await main();
