// Applying a state-machine event to a stored VM: the state changes only if
// it is still what the event was computed from, so two racing requests
// cannot both win. Used by user actions and by host agents' reports.
//
// Also the deadlines of graceful actions: a graceful stop or reboot asks the
// guest (ACPI power button) and is forced when the guest has not complied in
// time. The deadline lives in this panel process (the UI shows it as a
// countdown); after a restart of the panel a VM still stopping gets a fresh one.
import { TRPCError } from '@trpc/server';
import type { Services } from '../services';
import { isVmState, transition, type VmEvent, type VmState } from '../domain/vmState';
import { audit } from './audit';

export async function applyVmEvent(
  services: Services,
  vmId: string,
  event: VmEvent,
  opts: { expected?: VmState; lastError?: string | null; onApplied?: (to: VmState) => void } = {},
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
  // A graceful action is over once the VM has left the state it waits in.
  const p = pendingOf(services, vmId);
  if (p && ((p.action === 'stop' && t.to !== 'stopping') || (p.action !== 'stop' && t.to !== 'running'))) clearPending(services, vmId);
  // Only the request whose change won gets here (e.g. to arm its deadline), before anyone is told.
  opts.onApplied?.(t.to);
  await services.events.vmChanged(services.db, vmId, [], t.to);
  return t.to;
}

// ---- graceful stop and reboot ----

export const DEFAULT_GRACE_SECONDS = 30;
export const MAX_GRACE_SECONDS = 600;

export interface Pending {
  action: 'stop' | 'reboot' | 'reset';
  deadline: Date | null; // when the action is forced (null: already forced)
  timer?: NodeJS.Timeout;
}

const pendingByServices = new WeakMap<Services, Map<string, Pending>>();

function pendingMap(services: Services): Map<string, Pending> {
  let m = pendingByServices.get(services);
  if (!m) pendingByServices.set(services, (m = new Map()));
  return m;
}

/** The graceful action a VM is in, if any (what the UI counts down to). */
export function pendingOf(services: Services, vmId: string): Pending | undefined {
  return pendingMap(services).get(vmId);
}

export function clearPending(services: Services, vmId: string): Pending | undefined {
  const m = pendingMap(services);
  const p = m.get(vmId);
  if (p?.timer) clearTimeout(p.timer);
  m.delete(vmId);
  return p;
}

/** Cancels every deadline (the panel shutting down: server/main.ts). */
export function clearAllPending(services: Services): void {
  for (const id of [...pendingMap(services).keys()]) clearPending(services, id);
}

/** The actor of what nobody asked for in a request (agent reports, deadlines, reconciliation). */
export const SYSTEM = { principal: null, ip: '' };

/**
 * Starts the countdown of a graceful stop or reboot: at the deadline, if the
 * VM is still stopping (or still waiting to reboot), it is forced and the
 * fallback is audited.
 */
export function armDeadline(services: Services, vmId: string, action: 'stop' | 'reboot', seconds: number): Date {
  clearPending(services, vmId);
  const deadline = new Date(Date.now() + seconds * 1000);
  const timer = setTimeout(() => void forceOverdue(services, vmId, action, seconds).catch((e) => console.error(`vm ${vmId}: forcing the ${action} failed:`, e)), seconds * 1000);
  timer.unref();
  pendingMap(services).set(vmId, { action, deadline, timer });
  return deadline;
}

/** Notes a reset the panel asked for, so the agent's "rebooted" report is not taken for the guest's own. Returns the note. */
export function noteReset(services: Services, vmId: string): Pending {
  clearPending(services, vmId);
  const p: Pending = { action: 'reset', deadline: null };
  pendingMap(services).set(vmId, p);
  return p;
}

/** Clears the VM's pending action only if it is still `p` (a request undoing only what it set itself). */
export function clearPendingIf(services: Services, vmId: string, p: Pending): void {
  if (pendingOf(services, vmId) === p) clearPending(services, vmId);
}

async function forceOverdue(services: Services, vmId: string, action: 'stop' | 'reboot', seconds: number): Promise<void> {
  const p = pendingOf(services, vmId);
  if (p?.action !== action) return;
  const vm = await services.db.vm.findUnique({ where: { id: vmId }, select: { id: true, name: true, ownerId: true, state: true, hostId: true } });
  if (!vm || vm.state !== (action === 'stop' ? 'stopping' : 'running')) {
    clearPending(services, vmId);
    return;
  }
  await forceNow(services, vm, action, `The guest did not ${action === 'stop' ? 'power off' : 'shut down for the reboot'} within ${seconds} s.`);
}

/**
 * The fallback of a graceful action: a forced stop, or a reset. Audited as
 * `vm.stop_forced` / `vm.reboot_forced` with why.
 */
export async function forceNow(
  services: Services,
  vm: { id: string; name: string; ownerId: string; hostId: string | null },
  action: 'stop' | 'reboot',
  why: string,
): Promise<void> {
  const p = pendingOf(services, vm.id);
  if (p) {
    if (p.timer) clearTimeout(p.timer);
    pendingMap(services).set(vm.id, { action: action === 'stop' ? 'stop' : 'reset', deadline: null });
  }
  const target = { targetType: 'vm' as const, targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId };
  const auditAction = action === 'stop' ? 'vm.stop_forced' : 'vm.reboot_forced';
  try {
    const agent = services.hosts.forHost(vm.hostId);
    if (action === 'stop') {
      const r = await agent.stop(vm.id, { force: true });
      // The guest powered off just as the deadline passed: nothing was forced.
      if (r?.alreadyStopped) return;
    } else await agent.reboot(vm.id, { force: true });
    await audit(SYSTEM, services.db, { action: auditAction, ...target, outcome: 'ok', detail: why });
  } catch (e) {
    clearPending(services, vm.id);
    await audit(SYSTEM, services.db, { action: auditAction, ...target, outcome: 'error', detail: `${why} Forcing it failed: ${(e as Error).message}` });
    throw e;
  }
  await services.events.vmChanged(services.db, vm.id);
}
