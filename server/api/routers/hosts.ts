// Host agents on other machines: admins create a host and its token; the
// agent (`npm run agent`) registers with it, hands over the key the panel
// must use to call it back, and reports what its VMs do.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { adminProcedure, hostProcedure, router } from '../trpc';
import { vmName } from '../../domain/validation';
import { newToken, sha256 } from '../../auth/secrets';
import { HOST_TOKEN_PREFIX } from '../../auth/sessions';
import { RemoteAgent } from '../../agent/remote';
import { handleAgentReport } from '../../agent/reports';
import { applyVmEvent, armDeadline, DEFAULT_GRACE_SECONDS, pendingOf } from '../vmEvents';
import { placeUnplacedVms, recoverInterrupted } from './vm';
import { isActive, isVmState } from '../../domain/vmState';
import { audit } from '../audit';

const capacity = z.strictObject({
  cpus: z.number().int().min(0), memoryMiB: z.number().int().min(0), diskGiB: z.number().int().min(0),
  diskTotalBytes: z.number().int().min(0).optional(), diskFreeBytes: z.number().int().min(0).optional(),
});
const vmIdList = z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).max(10_000);

const report = z.discriminatedUnion('event', [
  z.strictObject({ vmId: z.string().max(64), event: z.literal('started') }),
  z.strictObject({ vmId: z.string().max(64), event: z.literal('stopped') }),
  z.strictObject({ vmId: z.string().max(64), event: z.literal('rebooted') }),
  z.strictObject({ vmId: z.string().max(64), event: z.literal('crashed'), reason: z.string().max(1000) }),
]);

export const hostsRouter = router({
  /** The token is shown once; only its hash is kept. */
  create: adminProcedure.input(z.strictObject({ name: vmName })).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    if (input.name === 'local' || (await db.host.findUnique({ where: { name: input.name } }))) {
      throw new TRPCError({ code: 'CONFLICT', message: 'name: A host with this name exists.' });
    }
    const token = HOST_TOKEN_PREFIX + newToken();
    const host = await db.host.create({ data: { name: input.name, url: '', tokenHash: sha256(token) } });
    await audit(ctx, db, { action: 'host.create', targetType: 'host', targetId: host.id, targetName: host.name, outcome: 'ok' });
    return { id: host.id, token };
  }),

  /**
   * Called by the agent at start and then periodically (a restarted panel
   * learns its agents again within one period). Reconciles the host's VMs
   * with what actually runs there.
   */
  register: hostProcedure
    .input(z.strictObject({ url: z.url().max(500), key: z.string().min(32).max(200), capacity, running: vmIdList }))
    .mutation(async ({ ctx, input }) => {
      const { db, hosts } = ctx.services;
      const { cpus, memoryMiB, diskGiB } = input.capacity; // the byte counts are asked live, not stored
      await db.host.update({ where: { id: ctx.host.id }, data: { url: input.url, cpus, memoryMiB, diskGiB, lastSeenAt: new Date() } });
      const known = hosts.list().find((a) => a.hostId === ctx.host.id);
      if (!(known instanceof RemoteAgent) || known.url !== input.url || !hosts.sameKey(ctx.host.id, input.key)) {
        const agent = new RemoteAgent(ctx.host.id, input.url, input.key);
        hosts.register(agent, input.key);
        const running = new Set(input.running);
        for (const vm of await db.vm.findMany({ where: { hostId: ctx.host.id } })) {
          if (!isVmState(vm.state) || !isActive(vm.state)) continue;
          // Gone, and its end was not reported to this panel: a VM being stopped has stopped; any other crashed (audited).
          if (!running.has(vm.id)) {
            await handleAgentReport(ctx.services, vm.state === 'stopping' ? { vmId: vm.id, event: 'stopped' } : { vmId: vm.id, event: 'crashed', reason: 'The VM process is gone from its host.' }).catch(() => {});
          }
          else if (vm.state === 'starting') await applyVmEvent(ctx.services, vm.id, 'started').catch(() => {});
          // A graceful stop under way when the panel restarted: its countdown starts again.
          else if (vm.state === 'stopping' && !pendingOf(ctx.services, vm.id)) armDeadline(ctx.services, vm.id, 'stop', DEFAULT_GRACE_SECONDS);
        }
        // Disk work cut short by a restart of either side is settled (in the
        // background, so the agent's registration does not wait on its own
        // calls); then VMs created while no host existed go to the hosts there are now.
        void recoverInterrupted(ctx.services, agent)
          .then(() => placeUnplacedVms(ctx.services))
          .catch((e) => console.error('settling VMs failed:', e));
      }
      return { hostId: ctx.host.id };
    }),

  report: hostProcedure.input(report).mutation(async ({ ctx, input }) => {
    const vm = await ctx.services.db.vm.findUnique({ where: { id: input.vmId }, select: { hostId: true } });
    // A host speaks only for its own VMs.
    if (!vm || vm.hostId !== ctx.host.id) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such VM on this host.' });
    await handleAgentReport(ctx.services, input);
    return { ok: true };
  }),
});
