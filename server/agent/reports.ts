// Turns what a host agent reports into state-machine events on the stored
// VM, and audits what nobody asked for (crashes, guest reboots).
import type { Services } from '../services';
import type { AgentReport } from './local';
import { TRPCError } from '@trpc/server';
import { applyVmEvent, clearPending, pendingOf, SYSTEM } from '../api/vmEvents';
import { audit } from '../api/audit';

/**
 * Applies one report. A report that no longer applies (the VM has moved on:
 * e.g. "crashed" for a VM already stopped) is dropped; a lost race with a
 * request (CONFLICT) or a database failure is thrown, to be retried.
 */
export async function handleAgentReport(services: Services, r: AgentReport): Promise<void> {
  try {
    await applyReport(services, r);
  } catch (e) {
    if (e instanceof TRPCError && e.code === 'PRECONDITION_FAILED') return;
    throw e;
  }
}

/**
 * The in-process agent's report sink: reports are applied one at a time, in
 * order, and a failed one is retried (a few times, backing off) before the
 * next, so a crash or a stop is not lost to a transient failure.
 */
export function reportQueue(services: Services, opts: { attempts?: number; delayMs?: number } = {}): (r: AgentReport) => void {
  const attempts = opts.attempts ?? 6;
  const delayMs = opts.delayMs ?? 100;
  let chain = Promise.resolve();
  return (r) => {
    chain = chain.then(async () => {
      for (let i = 1; ; i++) {
        try {
          return await handleAgentReport(services, r);
        } catch (e) {
          if (i >= attempts) return console.error(`agent report ${r.event} of VM ${r.vmId} given up:`, e);
          await new Promise((res) => setTimeout(res, delayMs * 2 ** (i - 1)));
        }
      }
    });
  };
}

async function applyReport(services: Services, r: AgentReport): Promise<void> {
  const db = services.db;
  const vm = await db.vm.findUnique({ where: { id: r.vmId }, select: { id: true, name: true, ownerId: true, state: true, hostId: true } });
  if (!vm) return;
  const target = { targetType: 'vm' as const, targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId };
  switch (r.event) {
    case 'started':
      // After a reboot the VM is already running: nothing to change.
      if (vm.state === 'starting') await applyVmEvent(services, vm.id, 'started');
      // Stopped meanwhile (a stop between the panel's last look and the process starting): it must not run.
      else if (vm.state === 'stopped') await services.hosts.forHost(vm.hostId).stop(vm.id, { force: true });
      break;
    case 'stopped':
      // Being deleted (forced) or already stopped: the process ending changes nothing.
      if (vm.state !== 'stopped' && vm.state !== 'deleting') {
        await applyVmEvent(services, vm.id, 'stopped', { lastError: null });
        // Nobody asked: the guest powered itself off.
        if (vm.state === 'running' || vm.state === 'starting') await audit(SYSTEM, db, { action: 'vm.guest_poweroff', ...target, outcome: 'ok' });
      }
      break;
    case 'rebooted': {
      // A reboot or reset the panel asked for is audited with the request; the guest's own is audited here.
      const requested = pendingOf(services, vm.id)?.action !== 'stop' ? clearPending(services, vm.id) : undefined;
      if (!requested) await audit(SYSTEM, db, { action: 'vm.guest_reboot', ...target, outcome: 'ok' });
      await services.events.vmChanged(db, vm.id, [], vm.state);
      break;
    }
    case 'crashed':
      if (vm.state === 'deleting') break;
      await applyVmEvent(services, vm.id, 'crashed', { lastError: r.reason });
      await audit(SYSTEM, db, { action: 'vm.crash', ...target, outcome: 'error', detail: r.reason });
      break;
  }
}
