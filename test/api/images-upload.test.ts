// Image upload through the real panel: PUT /api/images/upload (streamed,
// admin-only, Origin-checked, size-limited, validated) then
// images.importUpload; delete removes the uploaded files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, client, errorOf, jarOf, startPanel, withUsers, type Client, type TestPanel } from '../support/server';
import { ROOT_DIR } from '../../server/config';
import { imagesDir, uploadsDir } from '../../server/images/catalog';

const GUEST = path.join(ROOT_DIR, 'native/guest/build/guest.elf');

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
beforeAll(async () => { panel = await startPanel('sqlite'); setup = await withUsers(panel, 1); });
afterAll(async () => { await panel.close(); });

const cookieOf = (c: Client) => [...jarOf(c)].map(([k, v]) => `${k}=${v}`).join('; ');

async function upload(c: Client | null, part: string, body: Buffer, opts: { origin?: string | null; bearer?: string; filename?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (c) headers.cookie = cookieOf(c);
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  const origin = opts.origin === undefined ? panel.url : opts.origin;
  if (origin) headers.origin = origin;
  const res = await fetch(`${panel.url}/api/images/upload?part=${part}&filename=${encodeURIComponent(opts.filename ?? part)}`, { method: 'PUT', headers, body: new Uint8Array(body) });
  return { status: res.status, body: (await res.json()) as { uploadId?: string; error?: string; size?: number; kernelKind?: string } };
}

const uploadFiles = () => {
  const dir = uploadsDir(panel.services.config.dataDir);
  return existsSync(dir) ? readdirSync(dir) : [];
};
let before = new Set<string>();
beforeEach(() => { before = new Set(uploadFiles()); });
/** Files under DATA_DIR/images/.uploads (staged or temporary) that this test added. */
const leftovers = () => uploadFiles().filter((f) => !before.has(f));

describe('image upload', () => {
  it('an admin uploads a PVH kernel; it becomes an image everyone lists, and delete removes its files', async () => {
    const a = setup.admin;
    const kernel = readFileSync(GUEST);
    const r = await upload(a, 'kernel', kernel, { filename: 'guest.elf' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ size: kernel.length, kernelKind: 'pvh-elf' });
    const { id } = await a.images.importUpload.mutate({ name: 'uploaded-guest', kernelUpload: r.body.uploadId!, cmdline: 'console=ttyS0', minMemoryMiB: 32, description: 'from the browser' });
    expect(leftovers()).toEqual([]);

    const listed = await setup.users[0]!.c.images.list.query();
    expect(listed.map((i) => i.name)).toContain('uploaded-guest');
    const row = await panel.db.image.findUniqueOrThrow({ where: { id } });
    expect(row.kernelPath.startsWith(path.join(imagesDir(panel.services.config.dataDir), 'imported'))).toBe(true);
    expect(readFileSync(row.kernelPath).equals(kernel)).toBe(true);
    expect(row).toMatchObject({ cmdline: 'console=ttyS0', minMemoryMiB: 32, builtin: false, initrdPath: null });

    const catalog = await a.images.catalog.query();
    const entry = catalog.images.find((i) => i.id === id)!;
    expect(entry).toMatchObject({ uploaded: true, vms: 0, builtin: false });
    expect(entry.files).toEqual([expect.objectContaining({ role: 'kernel', size: kernel.length, exists: true })]);

    // An upload can be imported once, by the admin who made it.
    expect((await errorOf(a.images.importUpload.mutate({ name: 'again', kernelUpload: r.body.uploadId! }))).message).toMatch(/^kernelUpload: .*gone/);

    await a.images.delete.mutate({ id });
    expect(existsSync(row.kernelPath)).toBe(false);
    expect(existsSync(path.dirname(row.kernelPath))).toBe(false);
  });

  it('a kernel, an initrd and a sparse disk upload together', async () => {
    const a = setup.admin;
    const k = await upload(a, 'kernel', readFileSync(GUEST));
    const initrd = await upload(a, 'initrd', Buffer.concat([Buffer.from('070701'), Buffer.alloc(506)]));
    // 8 MiB: 4 KiB of data, then zeros (holes on disk).
    const diskBytes = Buffer.alloc(8 * 2 ** 20);
    diskBytes.fill(0xab, 0, 4096);
    const disk = await upload(a, 'disk', diskBytes);
    expect([k.status, initrd.status, disk.status]).toEqual([201, 201, 201]);
    const { id } = await a.images.importUpload.mutate({ name: 'with-disk', kernelUpload: k.body.uploadId!, initrdUpload: initrd.body.uploadId!, diskUpload: disk.body.uploadId! });
    const entry = (await a.images.catalog.query()).images.find((i) => i.id === id)!;
    const diskFile = entry.files.find((f) => f.role === 'disk')!;
    expect(diskFile.size).toBe(diskBytes.length);
    expect(diskFile.allocated).toBeLessThan(1024 * 1024);
    expect(readFileSync(diskFile.path).equals(diskBytes)).toBe(true);
    // Staged ids are per part: a kernel upload is not a disk.
    const k2 = await upload(a, 'kernel', readFileSync(GUEST));
    expect((await errorOf(a.images.importUpload.mutate({ name: 'mixed', kernelUpload: k2.body.uploadId!, diskUpload: k2.body.uploadId! }))).message).toMatch(/^diskUpload: .*not a disk/);
    await a.images.delete.mutate({ id });
  });

  it('a file that is not a kernel is refused with the validator\'s message, and nothing is left', async () => {
    const r = await upload(setup.admin, 'kernel', readFileSync(path.join(ROOT_DIR, 'package.json')), { filename: 'package.json' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^kernel: package\.json: not a kernel \(neither a Linux bzImage nor an ELF file\)/);
    expect(r.body.error).not.toContain(panel.services.config.dataDir);
    const qcow = await upload(setup.admin, 'disk', Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(1020)]));
    expect(qcow.status).toBe(400);
    expect(qcow.body.error).toMatch(/qcow2.*convert it to raw/);
    const empty = await upload(setup.admin, 'initrd', Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(leftovers()).toEqual([]);
  });

  it('ordinary users, signed-out callers and cross-origin requests are refused', async () => {
    const kernel = readFileSync(GUEST);
    expect((await upload(setup.users[0]!.c, 'kernel', kernel)).status).toBe(403);
    expect((await upload(null, 'kernel', kernel)).status).toBe(401);
    const foreign = await upload(setup.admin, 'kernel', kernel, { origin: 'https://evil.example' });
    expect(foreign).toEqual({ status: 403, body: { error: 'Cross-origin request refused.' } });
    // A browser always sends Origin with a PUT: a cookie without one is not ours.
    expect((await upload(setup.admin, 'kernel', kernel, { origin: null })).status).toBe(403);
    expect(leftovers()).toEqual([]);
    // An admin's API token works without Origin (no cookie involved).
    const { secret } = await setup.admin.account.createToken.mutate({ name: 'uploader' });
    const r = await upload(null, 'kernel', kernel, { origin: null, bearer: secret });
    expect(r.status).toBe(201);
    expect((await errorOf(setup.users[0]!.c.images.importUpload.mutate({ name: 'x', kernelUpload: 'a'.repeat(32) }))).code).toBe('FORBIDDEN');
  });

  it('over the size limit: 413 at once when declared, 413 when a chunked body passes it, nothing left', async () => {
    const cookie = cookieOf(setup.admin);
    const u = new URL(panel.url);
    const send = (headers: Record<string, string | number>, bytes: number) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ agent: false, host: u.hostname, port: u.port, method: 'PUT', path: '/api/images/upload?part=kernel', headers: { cookie, origin: panel.url, ...headers } }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(1 << 20, 1);
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    const declared = await send({ 'content-length': 64 * 2 ** 20 + 1 }, 0);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error).toBe('kernel: larger than the limit of 64 MiB.');
    const streamed = await send({ 'transfer-encoding': 'chunked' }, 65 * 2 ** 20).catch((e: Error) => ({ status: 0, body: e.message }));
    expect(streamed.status, streamed.body).toBe(413);
    expect(leftovers()).toEqual([]);
    // The panel still answers normally afterwards.
    await client(panel.url).auth.signIn.mutate({ email: ADMIN.email, password: ADMIN.password });
  });
});
