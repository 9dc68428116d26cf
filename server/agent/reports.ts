// Turns what a host agent reports into state-machine events on the stored
// VM, and audits what nobody asked for (crashes, guest reboots).
import type { Services } from '../services';
import type { AgentReport } from './local';
import { applyVmEvent, clearPending, pendingOf } from '../api/vmEvents';
import { audit } from '../api/audit';

const SYSTEM = { principal: null, ip: '' };

export async function handleAgentReport(services: Services, r: AgentReport): Promise<void> {
  const db = services.db;
  const vm = await db.vm.findUnique({ where: { id: r.vmId }, select: { id: true, name: true, ownerId: true, state: true } });
  if (!vm) return;
  const target = { targetType: 'vm' as const, targetId: vm.id, targetName: vm.name, vmOwnerId: vm.ownerId };
  switch (r.event) {
    case 'started':
      // After a reboot the VM is already running: nothing to change.
      if (vm.state === 'starting') await applyVmEvent(services, vm.id, 'started');
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
