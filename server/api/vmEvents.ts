// Applying a state-machine event to a stored VM: the state changes only if
// it is still what the event was computed from, so two racing requests
// cannot both win. Used by user actions and by host agents' reports.
import { TRPCError } from '@trpc/server';
import type { Services } from '../services';
import { isVmState, transition, type VmEvent, type VmState } from '../domain/vmState';

export async function applyVmEvent(
  services: Services,
  vmId: string,
  event: VmEvent,
  opts: { expected?: VmState; lastError?: string | null } = {},
): Promise<VmState> {
  const vm = await services.db.vm.findUnique({ where: { id: vmId }, select: { state: true } });
  if (!vm) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such VM.' });
  const from = vm.state;
  if (!isVmState(from)) throw new Error(`VM ${vmId} has unknown state ${from}`);
  if (opts.expected && opts.expected !== from) {
    throw new TRPCError({ code: 'CONFLICT', message: `The VM changed state meanwhile (now ${from}). Try again.` });
  }
  const t = transition(from, event);
  if (!t.ok) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: t.message });
  const { count } = await services.db.vm.updateMany({
    where: { id: vmId, state: from },
    data: { state: t.to, ...(opts.lastError !== undefined ? { lastError: opts.lastError } : {}) },
  });
  if (count !== 1) throw new TRPCError({ code: 'CONFLICT', message: 'The VM changed state meanwhile. Try again.' });
  await services.events.vmChanged(services.db, vmId);
  return t.to;
}
