// The host agent's own API, served by `npm run agent` on other hosts and
// called by the panel (remote.ts). Every request must carry the key the
// agent handed the panel when it registered; anything else is refused.
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { z } from 'zod';
import { sameHash, sha256 } from '../auth/secrets';
import { AgentError, type HostAgent } from './types';

export interface AgentContext {
  authorized: boolean;
}

export function agentContext(keyHash: string, authorization: string | undefined): AgentContext {
  const presented = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : '';
  return { authorized: presented.length > 0 && sameHash(sha256(presented), keyHash) };
}

const t = initTRPC.context<AgentContext>().create({ transformer: superjson });
const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.authorized) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'This host agent only answers its panel.' });
  return next();
});

/** Agent failures keep their message for the user; everything else stays internal. */
async function relay<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof AgentError) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: e.message });
    throw e;
  }
}

const vmId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const spec = z.strictObject({
  id: vmId,
  name: z.string().max(63),
  vcpus: z.number().int().min(1).max(64),
  memoryMiB: z.number().int().min(16).max(1 << 20),
  diskGiB: z.number().int().min(1).max(64 * 1024),
  image: z.strictObject({ kernelPath: z.string(), initrdPath: z.string().nullable(), diskTemplatePath: z.string().nullable(), cmdline: z.string() }),
});

export function agentRouter(agent: HostAgent & { runningIds(): string[] }) {
  return t.router({
    capacity: authed.query(() => agent.capacity()),
    running: authed.query(() => agent.runningIds()),
    createDisk: authed.input(spec).mutation(({ input }) => relay(() => agent.createDisk(input))),
    deleteDisk: authed.input(z.strictObject({ vmId })).mutation(({ input }) => relay(() => agent.deleteDisk(input.vmId))),
    start: authed.input(spec).mutation(({ input }) => relay(() => agent.start(input))),
    stop: authed.input(z.strictObject({ vmId, force: z.boolean() })).mutation(({ input }) => relay(() => agent.stop(input.vmId, { force: input.force }))),
    reboot: authed.input(z.strictObject({ vmId, force: z.boolean().optional() })).mutation(({ input }) => relay(() => agent.reboot(input.vmId, { force: input.force ?? false }))),
    metrics: authed.input(z.strictObject({ vmId })).query(({ input }) => relay(() => agent.metrics(input.vmId))),
    status: authed.input(z.strictObject({ vmId })).query(({ input }) => relay(() => agent.status(input.vmId))),
    resizeDisk: authed.input(z.strictObject({ vmId, diskGiB: z.number().int().min(1).max(64 * 1024) })).mutation(({ input }) => relay(() => agent.resizeDisk(input.vmId, input.diskGiB))),
  });
}

export type AgentRouter = ReturnType<typeof agentRouter>;
