import { authedProcedure, router } from '../trpc';

export const imagesRouter = router({
  list: authedProcedure.query(async ({ ctx }) => {
    const images = await ctx.services.db.image.findMany({ orderBy: [{ builtin: 'desc' }, { name: 'asc' }] });
    return images.map((i) => ({ id: i.id, name: i.name, description: i.description, kind: i.kind, minMemoryMiB: i.minMemoryMiB, builtin: i.builtin }));
  }),
});
