// Registers this machine's host agent with the panel at start-up, and
// reconciles VMs that were running when the panel last stopped: those whose
// process is still alive are adopted, the others are marked stopped or
// crashed; disk work cut short (creating, deleting) is settled.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Services } from '../services';
import { ROOT_DIR } from '../config';
import { LocalAgent } from './local';
import { handleAgentReport, reportQueue } from './reports';
import { placeUnplacedVms, recoverInterrupted, specOf } from '../api/routers/vm';
import { applyVmEvent, armDeadline, DEFAULT_GRACE_SECONDS } from '../api/vmEvents';
import { isActive, isVmState } from '../domain/vmState';

export async function startLocalAgent(services: Services): Promise<LocalAgent | null> {
  const { config, db } = services;
  if (config.AGENT !== 'local') return null;
  const runner = path.join(ROOT_DIR, 'native/build/kvmvmm-runner');
  if (!existsSync('/dev/kvm') || !existsSync(runner)) {
    console.error(`agent: not starting the local host agent (${existsSync('/dev/kvm') ? 'the VMM is not built: npm run build' : '/dev/kvm is missing'})`);
    return null;
  }
  const agent = new LocalAgent({
    hostId: '', // set below, once the host row exists
    dataDir: config.dataDir,
    runner,
    report: reportQueue(services), // in order, retried: a lost "stopped" or "crashed" would leave a VM stuck
  });
  const cap = await agent.capacity();
  const host = await db.host.upsert({
    where: { name: 'local' },
    create: { name: 'local', url: 'local', cpus: cap.cpus, memoryMiB: cap.memoryMiB, diskGiB: cap.diskGiB, lastSeenAt: new Date() },
    update: { cpus: cap.cpus, memoryMiB: cap.memoryMiB, diskGiB: cap.diskGiB, lastSeenAt: new Date() },
  });
  agent.hostId = host.id;

  const vms = await db.vm.findMany({ where: { hostId: host.id }, include: { image: true } });
  const active = vms.filter((v) => isVmState(v.state) && isActive(v.state));
  const specs = new Map(active.map((v) => [v.id, specOf(v, v.image)]));
  const stopping = new Set(active.filter((v) => v.state === 'stopping').map((v) => v.id));
  const adopted = new Set(agent.adopt(active.map((v) => v.id), specs, stopping));
  for (const vm of active) {
    if (adopted.has(vm.id)) {
      if (vm.state === 'starting') await applyVmEvent(services, vm.id, 'started').catch(() => {});
      // A graceful stop that was under way: its countdown starts again.
      if (vm.state === 'stopping') armDeadline(services, vm.id, 'stop', DEFAULT_GRACE_SECONDS);
      // A graceful reboot that was under way is not known here (it lived in the
      // old panel's memory, and adopt() tracks every process as not rebooting):
      // if the guest then powers off, the VM ends up stopped, not restarted.
      continue;
    }
    // Gone meanwhile: powered off (stopped) or anything else (crashed, audited), from the process's last log line.
    const exit = agent.lastExit(vm.id);
    await handleAgentReport(services, exit.poweredOff
      ? { vmId: vm.id, event: 'stopped' }
      : { vmId: vm.id, event: 'crashed', reason: `The VM process ended while the panel was down${exit.reason ? ` (${exit.reason})` : ''}.` },
    ).catch((e) => console.error(`agent: VM ${vm.id}:`, e));
  }
  // Disks being made or removed when the panel stopped: nobody waits for them any more.
  await recoverInterrupted(services, agent);
  services.hosts.register(agent);
  await placeUnplacedVms(services).catch((e) => console.error('agent: placing VMs failed:', e));
  console.error(`agent: local host agent ready (${cap.cpus} CPUs, ${cap.memoryMiB} MiB; ${adopted.size} running VMs adopted)`);
  return agent;
}
