// The image catalog. Everyone signed in lists images; admins import them
// (by a path on the panel host, validated) and remove unused ones.
import { TRPCError } from '@trpc/server';
import { adminProcedure, authedProcedure, router } from '../trpc';
import { id, importImageInput } from '../../domain/validation';
import { z } from 'zod';
import { checkDiskTemplate, checkInitrd, checkKernel, ImageFileError } from '../../images/validate';
import { audit } from '../audit';

function fieldCheck(field: string, check: () => unknown) {
  try {
    check();
  } catch (e) {
    if (e instanceof ImageFileError) throw new TRPCError({ code: 'BAD_REQUEST', message: `${field}: ${e.message}` });
    throw e;
  }
}

export const imagesRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const images = await ctx.services.db.image.findMany({ orderBy: [{ builtin: 'desc' }, { name: 'asc' }] });
    return images.map((i) => ({ id: i.id, name: i.name, description: i.description, kind: i.kind, minMemoryMiB: i.minMemoryMiB, builtin: i.builtin, cmdline: i.cmdline }));
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

  delete: adminProcedure.input(z.strictObject({ id })).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const image = await db.image.findUnique({ where: { id: input.id }, include: { _count: { select: { vms: true } } } });
    if (!image) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such image.' });
    if (image._count.vms > 0) throw new TRPCError({ code: 'CONFLICT', message: `${image._count.vms} VM(s) use this image: delete them first.` });
    await db.image.delete({ where: { id: image.id } });
    await audit(ctx, db, { action: 'image.delete', targetType: 'image', targetId: image.id, targetName: image.name, outcome: 'ok' });
    return { ok: true };
  }),
});
