// Image file uploads: `PUT /api/images/upload?part=kernel|initrd|disk&filename=x`
// with the file as the raw request body (not tRPC: files are far too big for
// JSON). Admins only, with the same rules as tRPC mutations (session cookie
// or API token; a browser request must carry our own Origin). The body is
// streamed to a temporary file under DATA_DIR with a size limit per part
// (disks are written sparse: all-zero blocks become holes), checked with
// validate.ts, and kept as a staged upload that `images.importUpload` turns
// into a catalog entry. A refused or broken upload leaves no file behind.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Services } from '../services';
import { authenticate } from '../api/trpc';
import { sameOrigin } from '../http';
import { uploadsDir } from './catalog';
import { checkDiskTemplate, checkInitrd, checkKernel, ImageFileError } from './validate';

export const UPLOAD_PATH = '/api/images/upload';
export const UPLOAD_PARTS = ['kernel', 'initrd', 'disk'] as const;
export type UploadPart = (typeof UPLOAD_PARTS)[number];
export const UPLOAD_LIMITS: Record<UploadPart, number> = { kernel: 64 * 2 ** 20, initrd: 512 * 2 ** 20, disk: 64 * 2 ** 30 };
/** Staged uploads nobody imported are removed after this long. */
const STALE_MS = 24 * 3600_000;

export interface StagedUpload {
  id: string;
  part: UploadPart;
  userId: string;
  size: number;
  filename: string;
  createdAt: number;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const ID_RE = /^[a-f0-9]{32}$/;
export const stagedFile = (dataDir: string, id: string) => path.join(uploadsDir(dataDir), `${id}.data`);
const stagedMeta = (dataDir: string, id: string) => path.join(uploadsDir(dataDir), `${id}.json`);

/** A staged upload of this user and part, or an error message for the form. */
export function readStaged(dataDir: string, id: string, userId: string, part: UploadPart): StagedUpload {
  if (!ID_RE.test(id) || !existsSync(stagedMeta(dataDir, id)) || !existsSync(stagedFile(dataDir, id))) {
    throw new ImageFileError('the uploaded file is gone (uploads expire after a day): upload it again');
  }
  const meta = JSON.parse(readFileSync(stagedMeta(dataDir, id), 'utf8')) as StagedUpload;
  if (meta.userId !== userId || meta.part !== part) throw new ImageFileError(`this upload is not a ${part} of yours`);
  return meta;
}

/** Moves a staged upload's file to `target` and forgets the upload. */
export function takeStaged(dataDir: string, id: string, target: string): void {
  mkdirSync(path.dirname(target), { recursive: true });
  renameSync(stagedFile(dataDir, id), target);
  rmSync(stagedMeta(dataDir, id), { force: true });
}

function sweepStale(dir: string) {
  const now = Date.now();
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    try {
      if (now - statSync(p).mtimeMs > STALE_MS) rmSync(p, { force: true });
    } catch { /* raced with another sweep */ }
  }
}

const ZERO = Buffer.alloc(64 * 1024);
const BLOCK = 4096;

function isZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i += ZERO.length) {
    const end = Math.min(to, i + ZERO.length);
    if (!b.subarray(i, end).equals(ZERO.subarray(0, end - i))) return false;
  }
  return true;
}

/**
 * Writes chunk at pos of a new file written once, front to back, skipping
 * all-zero runs (4 KiB-aligned pieces): they stay holes, which read as
 * zeros; the caller truncates the file to its size at the end.
 */
export async function writeSparse(fh: FileHandle, chunk: Buffer, pos: number): Promise<void> {
  let i = 0;
  while (i < chunk.length) {
    const blockEnd = (at: number) => Math.min(chunk.length, at + (BLOCK - ((pos + at) % BLOCK)));
    let j = blockEnd(i);
    const zero = isZero(chunk, i, j);
    // Extend the run while blocks keep the same zero-ness.
    while (j < chunk.length) {
      const k = blockEnd(j);
      const z = isZero(chunk, j, k);
      if (z !== zero) break;
      j = k;
    }
    if (!zero) {
      let off = i;
      while (off < j) off += (await fh.write(chunk, off, j - off, pos + off)).bytesWritten;
    }
    i = j;
  }
}

/**
 * Feeds the request body to `onChunk` one chunk at a time (paused while it
 * works: back-pressure to the client). Unlike `for await`, a failure does
 * not destroy the request, so the error can still be answered.
 */
function eachChunk(req: IncomingMessage, onChunk: (b: Buffer) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      reject(e);
    };
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      req.pause();
      onChunk(chunk).then(() => req.resume(), fail);
    });
    req.once('end', () => { if (!failed) resolve(); });
    req.once('error', () => fail(new HttpError(400, 'The upload was interrupted.')));
    req.once('close', () => { if (!req.complete) fail(new HttpError(400, 'The upload was interrupted.')); });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const safeName = (s: string) => s.replace(/[^\w.+-]/g, '_').slice(0, 100) || 'file';

export async function handleImageUpload(services: Services, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let tmp: string | null = null;
  try {
    const url = new URL(req.url ?? '/', 'http://panel');
    if (url.pathname !== UPLOAD_PATH) throw new HttpError(404, 'Not found.');
    if (req.method !== 'PUT' && req.method !== 'POST') {
      res.setHeader('allow', 'PUT, POST');
      throw new HttpError(405, 'Use PUT with the file as the request body.');
    }
    // Same rules as tRPC mutations: a cookie-carrying (browser) request must say where it comes from.
    const bearer = req.headers.authorization?.startsWith('Bearer ');
    if (!sameOrigin(req, services.config.PUBLIC_URL) || (!bearer && !req.headers.origin)) throw new HttpError(403, 'Cross-origin request refused.');
    const principal = await authenticate(services, req);
    if (!principal) throw new HttpError(401, 'Sign in first.');
    if (principal.user.role !== 'admin') throw new HttpError(403, 'Administrators only.');

    const part = url.searchParams.get('part') as UploadPart;
    if (!UPLOAD_PARTS.includes(part)) throw new HttpError(400, 'part: must be kernel, initrd or disk.');
    const filename = safeName(url.searchParams.get('filename') ?? part);
    const limit = UPLOAD_LIMITS[part];
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null;
    const tooBig = `${part}: larger than the limit of ${limit >= 2 ** 30 ? `${limit / 2 ** 30} GiB` : `${limit / 2 ** 20} MiB`}.`;
    if (declared !== null && !(declared >= 0)) throw new HttpError(400, 'Bad Content-Length.');
    if (declared !== null && declared > limit) throw new HttpError(413, tooBig);
    if (declared === 0) throw new HttpError(400, `${part}: the file is empty.`);

    const dir = uploadsDir(services.config.dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    sweepStale(dir);
    if (declared !== null && part !== 'disk') {
      const fs = statfsSync(dir);
      if (declared > fs.bavail * fs.bsize) throw new HttpError(507, 'Not enough free space in the data directory for this file.');
    }

    const id = randomBytes(16).toString('hex');
    tmp = path.join(dir, `tmp-${id}`);
    const fh = await open(tmp, 'wx', 0o600);
    let size = 0;
    try {
      await eachChunk(req, async (chunk) => {
        size += chunk.length;
        if (size > limit) throw new HttpError(413, tooBig);
        if (part === 'disk') await writeSparse(fh, chunk, size - chunk.length);
        else {
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, size - chunk.length + off)).bytesWritten;
        }
      });
      if (part === 'disk') await fh.truncate(size);
    } finally {
      await fh.close();
    }
    if (declared !== null && size !== declared) throw new HttpError(400, 'The upload was cut short.');
    if (size === 0) throw new HttpError(400, `${part}: the file is empty.`);

    let detail: string | undefined;
    try {
      if (part === 'kernel') detail = checkKernel(tmp);
      else if (part === 'initrd') checkInitrd(tmp);
      else checkDiskTemplate(tmp);
    } catch (e) {
      if (e instanceof ImageFileError) throw new HttpError(400, `${part}: ${e.message.replaceAll(`${tmp}: `, `${filename}: `).replaceAll(tmp, filename)}`);
      throw e;
    }
    const meta: StagedUpload = { id, part, userId: principal.user.id, size, filename, createdAt: Date.now() };
    // Metadata first: if it cannot be written (disk full) the temp file is still ours to remove.
    try {
      writeFileSync(stagedMeta(services.config.dataDir, id), JSON.stringify(meta), { mode: 0o600 });
      renameSync(tmp, stagedFile(services.config.dataDir, id));
    } catch (e) {
      rmSync(stagedMeta(services.config.dataDir, id), { force: true });
      throw e;
    }
    tmp = null;
    sendJson(res, 201, { uploadId: id, part, size, filename, ...(detail ? { kernelKind: detail } : {}) });
  } catch (e) {
    if (tmp) await rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    const err = e instanceof HttpError ? e
      : code === 'ENOSPC' || code === 'EDQUOT' ? new HttpError(507, 'The data directory is full.')
      : code === 'ECONNRESET' || (e as Error).message === 'aborted' ? new HttpError(400, 'The upload was interrupted.')
      : null;
    if (!err) console.error('image upload:', e);
    const status = err?.status ?? 500;
    sendJson(res, status, { error: err?.message ?? 'Internal error. The event was logged.' });
    // A body we did not read (refused early, or cut at the limit): discard what the client still
    // sends for a moment, so the answer is not lost to a connection reset, then drop the connection.
    if (!req.complete && !req.destroyed) {
      req.resume();
      const timer = setTimeout(() => req.socket.destroy(), 3000);
      timer.unref();
      req.once('end', () => clearTimeout(timer));
    }
  }
}
