// Console tickets: the one way into a VM's console WebSocket. Minting checks
// the same right the bridge re-checks at accept (server/console/bridge.ts).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { router, sessionProcedure } from '../trpc';
import { id } from '../../domain/validation';
import { loadVm } from '../vmAccess';
import { audit } from '../audit';
import { CONSOLE_KINDS, consolePath } from '../../console/protocol';
import { mintTicket } from '../../console/tickets';
import { capRefusal, consoleBridge } from '../../console/bridge';

export const consoleTicketInput = z.strictObject({ vmId: id, kind: z.enum(CONSOLE_KINDS) });

export const consoleRouter = router({
  /**
   * A one-time ticket for the console of a running VM, bound to this
   * session (API tokens cannot open consoles: the bridge needs the cookie).
   */
  ticket: sessionProcedure.input(consoleTicketInput).mutation(async ({ ctx, input }) => {
    const db = ctx.services.db;
    const bridge = consoleBridge(ctx.services);
    const me = ctx.principal.user.id;
    // A script minting in a loop is stopped here, before it costs a ticket row and an audit row each.
    const wait = bridge.mints.retryAfter(me, me);
    if (wait > 0) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: `Too many console requests: try again in ${Math.ceil(wait / 1000)} s.` });
    bridge.mints.fail(me, me);
    let target: { name: string; ownerId: string } | undefined;
    try {
      const { vm } = await loadVm(db, ctx.principal, input.vmId, 'console');
      target = vm;
      if (vm.state !== 'running' || !vm.hostId) {
        throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `The VM is ${vm.state}: start it to open its console.` });
      }
      const full = capRefusal(bridge.counts(me, vm.id), bridge.caps);
      if (full) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: full });
      const { ticket, expiresAt } = await mintTicket(db, { userId: ctx.principal.user.id, sessionId: ctx.sessionId, vmId: vm.id, kind: input.kind });
      await audit(ctx, db, { action: 'vm.console', targetType: 'vm', targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId, outcome: 'ok', detail: input.kind });
      return { ticket, path: consolePath(input.kind, vm.id, ticket), expiresAt };
    } catch (e) {
      const denied = e instanceof TRPCError && e.code !== 'INTERNAL_SERVER_ERROR';
      await audit(ctx, db, {
        action: 'vm.console', targetType: 'vm', targetId: input.vmId, targetName: target?.name, vmOwnerId: target?.ownerId ?? null,
        outcome: denied ? 'denied' : 'error', detail: `${input.kind}: ${(e as Error).message}`,
      });
      throw e;
    }
  }),
});
