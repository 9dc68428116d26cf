// The image catalog. Everyone signed in lists images; admins see the files,
// import images (by a path on the panel host, or from files uploaded through
// PUT /api/images/upload, see server/images/upload.ts; both validated) and
// remove unused imported ones.
import { existsSync, rmSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure, authedProcedure, router } from '../trpc';
import { id, importImageInput } from '../../domain/validation';
import { checkDiskTemplate, checkInitrd, checkKernel, ImageFileError } from '../../images/validate';
import { catalogOrder, detectHostKvm, imagesDir, importedDir, runsOnHost, runsOnOf, type HostKvm } from '../../images/catalog';
import { readStaged, stagedFile, takeStaged, type UploadPart } from '../../images/upload';
import { audit } from '../audit';

function fieldCheck(field: string, check: () => unknown) {
  try {
    check();
  } catch (e) {
    if (e instanceof ImageFileError) throw new TRPCError({ code: 'BAD_REQUEST', message: `${field}: ${e.message}` });
    throw e;
  }
}

let hostKvm: HostKvm | null = null;
/** This machine's KVM (the local host agent's): decides the default image. */
const localHostKvm = () => (hostKvm ??= detectHostKvm());

const uploadId = z.string().regex(/^[a-f0-9]{32}$/, 'Not an upload id.');
const importUploadInput = importImageInput.omit({ kernelPath: true, initrdPath: true, diskTemplatePath: true }).extend({
  kernelUpload: uploadId,
  initrdUpload: uploadId.optional(),
  diskUpload: uploadId.optional(),
});

function fileInfo(role: 'kernel' | 'initrd' | 'disk', p: string | null) {
  if (!p) return null;
  const st = statSync(p, { throwIfNoEntry: false });
  return { role, path: p, exists: !!st, size: st?.size ?? 0, allocated: st ? st.blocks * 512 : 0 };
}

export const imagesRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const host = localHostKvm();
    const images = catalogOrder(await ctx.services.db.image.findMany(), host);
    return images.map((i) => {
      const runsOn = runsOnOf(i);
      return {
        id: i.id, name: i.name, description: i.description, kind: i.kind, minMemoryMiB: i.minMemoryMiB, builtin: i.builtin, cmdline: i.cmdline,
        runsOn, runsHere: runsOnHost(runsOn, host),
      };
    });
  }),

  /** Admins: every image with its files, sizes and how many VMs use it. */
  catalog: adminProcedure.query(async ({ ctx }) => {
    const host = localHostKvm();
    const images = catalogOrder(await ctx.services.db.image.findMany({ include: { _count: { select: { vms: true } } } }), host);
    return {
      hostKvm: host,
      images: images.map((i) => {
        const runsOn = runsOnOf(i);
        return {
          id: i.id, name: i.name, description: i.description, kind: i.kind, cmdline: i.cmdline, minMemoryMiB: i.minMemoryMiB, builtin: i.builtin,
          createdAt: i.createdAt, vms: i._count.vms, runsOn, runsHere: runsOnHost(runsOn, host),
          uploaded: isUploaded(ctx.services.config.dataDir, i.kernelPath),
          files: [fileInfo('kernel', i.kernelPath), fileInfo('initrd', i.initrdPath), fileInfo('disk', i.diskTemplatePath)].filter((f) => f !== null),
        };
      }),
    };
  }),

  import: adminProcedure.input(importImageInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    fieldCheck('kernelPath', () => checkKernel(input.kernelPath));
    if (input.initrdPath) fieldCheck('initrdPath', () => checkInitrd(input.initrdPath!));
    if (input.diskTemplatePath) fieldCheck('diskTemplatePath', () => checkDiskTemplate(input.diskTemplatePath!));
    if (await db.image.findUnique({ where: { name: input.name } })) throw new TRPCError({ code: 'CONFLICT', message: 'name: An image with this name exists.' });
    const image = await db.image.create({
      data: {
        name: input.name, description: input.description, kind: 'linux', kernelPath: input.kernelPath,
        initrdPath: input.initrdPath ?? null, diskTemplatePath: input.diskTemplatePath ?? null, cmdline: input.cmdline, minMemoryMiB: input.minMemoryMiB,
      },
    });
    await audit(ctx, db, { action: 'image.import', targetType: 'image', targetId: image.id, targetName: image.name, outcome: 'ok', detail: input.kernelPath });
    return { id: image.id };
  }),

  /** Turns files staged by PUT /api/images/upload into a catalog entry (files move to DATA_DIR/images/imported/<dir>/). */
  importUpload: adminProcedure.input(importUploadInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const dataDir = ctx.services.config.dataDir;
    const userId = ctx.principal.user.id;
    const parts: { field: string; part: UploadPart; id: string; file: string }[] = [
      { field: 'kernelUpload', part: 'kernel', id: input.kernelUpload, file: 'vmlinuz' },
      ...(input.initrdUpload ? [{ field: 'initrdUpload', part: 'initrd' as const, id: input.initrdUpload, file: 'initrd.img' }] : []),
      ...(input.diskUpload ? [{ field: 'diskUpload', part: 'disk' as const, id: input.diskUpload, file: 'disk.img' }] : []),
    ];
    for (const p of parts) fieldCheck(p.field, () => readStaged(dataDir, p.id, userId, p.part));
    // Checked again: cheap, and the staged file is what becomes the image.
    fieldCheck('kernelUpload', () => checkKernel(stagedFile(dataDir, input.kernelUpload)));
    if (input.initrdUpload) fieldCheck('initrdUpload', () => checkInitrd(stagedFile(dataDir, input.initrdUpload!)));
    if (input.diskUpload) fieldCheck('diskUpload', () => checkDiskTemplate(stagedFile(dataDir, input.diskUpload!)));
    if (await db.image.findUnique({ where: { name: input.name } })) throw new TRPCError({ code: 'CONFLICT', message: 'name: An image with this name exists.' });
    const dir = importedDir(dataDir, randomUUID());
    const target = (file: string) => path.join(dir, file);
    try {
      for (const p of parts) takeStaged(dataDir, p.id, target(p.file));
      const image = await db.image.create({
        data: {
          name: input.name, description: input.description, kind: 'linux', kernelPath: target('vmlinuz'),
          initrdPath: input.initrdUpload ? target('initrd.img') : null, diskTemplatePath: input.diskUpload ? target('disk.img') : null,
          cmdline: input.cmdline, minMemoryMiB: input.minMemoryMiB,
        },
      });
      await audit(ctx, db, { action: 'image.import', targetType: 'image', targetId: image.id, targetName: image.name, outcome: 'ok', detail: `upload: ${parts.map((p) => p.part).join(', ')}` });
      return { id: image.id };
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }),

  delete: adminProcedure.input(z.strictObject({ id })).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const image = await db.image.findUnique({ where: { id: input.id }, include: { _count: { select: { vms: true } } } });
    if (!image) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such image.' });
    if (image.builtin) throw new TRPCError({ code: 'CONFLICT', message: 'Built-in images are managed by npm run images; only imported images can be removed.' });
    if (image._count.vms > 0) throw new TRPCError({ code: 'CONFLICT', message: `${image._count.vms} VM(s) use this image: delete them first.` });
    await db.image.delete({ where: { id: image.id } });
    // Uploaded files belong to the panel; files imported by server path stay where the admin put them.
    const dir = path.dirname(image.kernelPath);
    const shared = await db.image.count({ where: { OR: [{ kernelPath: { startsWith: dir + path.sep } }, { initrdPath: { startsWith: dir + path.sep } }, { diskTemplatePath: { startsWith: dir + path.sep } }] } });
    const uploaded = isUploaded(ctx.services.config.dataDir, image.kernelPath) && shared === 0;
    if (uploaded) rmSync(dir, { recursive: true, force: true });
    await audit(ctx, db, { action: 'image.delete', targetType: 'image', targetId: image.id, targetName: image.name, outcome: 'ok', detail: uploaded ? 'files removed' : undefined });
    return { ok: true };
  }),
});

/** Whether the image's files are ones the panel stored from an upload (DATA_DIR/images/imported/<dir>/vmlinuz). */
function isUploaded(dataDir: string, kernelPath: string): boolean {
  const root = path.join(imagesDir(dataDir), 'imported') + path.sep;
  const dir = path.dirname(kernelPath);
  return kernelPath.startsWith(root) && path.dirname(dir) + path.sep === root && existsSync(dir);
}
