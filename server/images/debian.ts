// Debian packages as the only source of the built-in Linux images: apt
// finds and downloads them (`apt-get download`, cached by name and version),
// dpkg-deb and tar take files out of them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

export interface CmdResult { ok: boolean; status: number | null; out: string }

export function sh(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer; env?: NodeJS.ProcessEnv } = {}): CmdResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) return { ok: false, status: null, out: `${cmd}: ${r.error.message}` };
  return { ok: r.status === 0, status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function must(r: CmdResult, what: string): string {
  if (!r.ok) throw new Error(`${what} failed (exit ${r.status}):\n${r.out.trim().split('\n').slice(-15).join('\n')}`);
  return r.out;
}

let updated = false;
/** `apt-get update`, at most once per run (only when apt does not know a package). */
export function aptUpdateOnce(): void {
  if (updated) return;
  updated = true;
  sh('apt-get', ['update'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

export interface DebPackage { name: string; version: string; size: number }

/** A package's candidate version and download size, from apt's lists (updated once if it does not know it). */
export function aptShow(name: string): DebPackage {
  const parse = () => {
    const r = sh('apt-cache', ['show', '--no-all-versions', name]);
    const version = /^Version: (\S+)$/m.exec(r.out)?.[1];
    const size = Number(/^Size: (\d+)$/m.exec(r.out)?.[1] ?? 0);
    return r.ok && version ? { name, version, size } : null;
  };
  let p = parse();
  if (!p) {
    aptUpdateOnce();
    p = parse();
  }
  if (!p) throw new Error(`apt does not know the package ${name} (is a Debian mirror in /etc/apt/sources.list?)`);
  return p;
}

/** linux-image-amd64 is a metapackage: the concrete linux-image-<abi>-amd64 it depends on. */
export function resolveKernelPackage(meta = 'linux-image-amd64'): string {
  const pick = () => /Depends:\s*(linux-image-[0-9][\w.+-]*-amd64)\b/.exec(sh('apt-cache', ['depends', meta]).out)?.[1];
  let pkg = pick();
  if (!pkg) {
    aptUpdateOnce();
    pkg = pick();
  }
  if (!pkg) throw new Error(`apt-cache depends ${meta} names no linux-image-*-amd64 package`);
  return pkg;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9.+~_-]/g, '_');

/**
 * The .deb of `pkg` in `cacheDir` (downloaded with `apt-get download` when
 * this version is not cached yet). `onBytes` sees the bytes received so far.
 */
export async function aptDownload(pkg: DebPackage, cacheDir: string, onBytes: (n: number) => void): Promise<{ file: string; cached: boolean }> {
  mkdirSync(cacheDir, { recursive: true });
  const file = path.join(cacheDir, `${safe(pkg.name)}_${safe(pkg.version)}.deb`);
  if (existsSync(file) && (!pkg.size || statSync(file).size === pkg.size)) return { file, cached: true };
  const tmp = path.join(cacheDir, `.download-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const dirBytes = () => {
    let n = 0;
    for (const f of readdirSync(tmp, { recursive: true, withFileTypes: true })) {
      if (f.isFile()) {
        try { n += statSync(path.join(f.parentPath ?? f.path, f.name)).size; } catch { /* renamed meanwhile */ }
      }
    }
    return n;
  };
  const attempt = () => new Promise<CmdResult>((resolve) => {
    const child = spawn('apt-get', ['download', `${pkg.name}=${pkg.version}`], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setInterval(() => onBytes(dirBytes()), 150);
    child.on('error', (e) => { clearInterval(timer); resolve({ ok: false, status: null, out: e.message }); });
    child.on('close', (code) => { clearInterval(timer); resolve({ ok: code === 0, status: code, out }); });
  });
  try {
    let r = await attempt();
    if (!r.ok) {
      aptUpdateOnce();
      r = await attempt();
    }
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!r.ok || !deb) throw new Error(`apt-get download ${pkg.name} failed:\n${r.out.trim()}`);
    onBytes(statSync(path.join(tmp, deb)).size);
    renameSync(path.join(tmp, deb), file);
    return { file, cached: false };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Every member name of a .deb's filesystem tarball. */
export function debList(deb: string): string[] {
  return must(sh('sh', ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar -tf -', deb]), `listing ${deb}`).split('\n').filter(Boolean);
}

/** Extracts the named members (exact names, or patterns with `wildcards`) of a .deb into dir. */
export function debExtract(deb: string, dir: string, members: string[], opts: { wildcards?: boolean; exclude?: string[]; keepDirSymlinks?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const flags = [
    ...(opts.wildcards ? ['--wildcards'] : []),
    ...(opts.keepDirSymlinks ? ['--keep-directory-symlink'] : []),
    ...(opts.exclude ?? []).map((e) => `--exclude=${e}`),
  ];
  must(sh('sh', ['-c', 'deb="$1"; dir="$2"; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -xf - -C "$dir" "$@"', 'sh', deb, dir, ...flags, ...members]), `extracting from ${path.basename(deb)}`);
}
