// The VM lifecycle as a pure state machine. Users' requests and the host
// agent's reports are both events; anything not listed here is refused.

export const VM_STATES = ['creating', 'stopped', 'starting', 'running', 'stopping', 'crashed', 'error', 'deleting'] as const;
export type VmState = (typeof VM_STATES)[number];

export type VmEvent =
  // requested by users
  | 'start'
  | 'stop'
  | 'forceStop'
  | 'reboot'
  | 'delete'
  | 'forceDelete'
  | 'resize'
  // the panel placing a VM created while no host existed (its disk is made now)
  | 'place'
  // reported by the host agent
  | 'created'
  | 'createFailed'
  | 'started'
  | 'stopped'
  | 'crashed'
  | 'startFailed';

const TABLE: Record<VmEvent, Partial<Record<VmState, VmState>>> = {
  start: { stopped: 'starting', crashed: 'starting' },
  stop: { running: 'stopping', starting: 'stopping' },
  forceStop: { running: 'stopping', starting: 'stopping', stopping: 'stopping' },
  reboot: { running: 'running' },
  delete: { stopped: 'deleting', crashed: 'deleting', error: 'deleting' },
  forceDelete: {
    stopped: 'deleting', crashed: 'deleting', error: 'deleting',
    running: 'deleting', starting: 'deleting', stopping: 'deleting',
    deleting: 'deleting', // a delete that failed half-way is tried again (removing a disk twice is harmless)
  },
  resize: { stopped: 'stopped', crashed: 'crashed' },
  place: { stopped: 'creating' },
  created: { creating: 'stopped' },
  createFailed: { creating: 'error' },
  started: { starting: 'running' },
  stopped: { starting: 'stopped', running: 'stopped', stopping: 'stopped', crashed: 'stopped' },
  crashed: { starting: 'crashed', running: 'crashed', stopping: 'crashed' },
  startFailed: { starting: 'crashed' },
};

export type Transition = { ok: true; to: VmState } | { ok: false; message: string };

export function transition(from: VmState, event: VmEvent): Transition {
  const to = TABLE[event][from];
  if (to) return { ok: true, to };
  return { ok: false, message: illegalMessage(from, event) };
}

function illegalMessage(from: VmState, event: VmEvent): string {
  if (event === 'start' && (from === 'running' || from === 'starting')) return 'The VM is already running.';
  if (event === 'delete' && (from === 'running' || from === 'starting' || from === 'stopping'))
    return 'The VM is running: stop it first, or delete with force.';
  if (event === 'resize') return 'Stop the VM before resizing it.';
  if (event === 'delete' && from === 'deleting') return 'The VM is being deleted; delete it with force to try again.';
  return `Cannot ${event} a VM that is ${from}.`;
}

/** States in which the VM's process exists and counts against "running VMs". */
export function isActive(state: VmState): boolean {
  return state === 'starting' || state === 'running' || state === 'stopping';
}

export function isVmState(x: string): x is VmState {
  return (VM_STATES as readonly string[]).includes(x);
}

export function allowedEvents(from: VmState): VmEvent[] {
  return (Object.keys(TABLE) as VmEvent[]).filter((e) => TABLE[e][from] !== undefined);
}

export interface Size {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** Why a resize is refused, or null. Disks only grow: shrinking would cut off data. */
export function resizeRefusal(from: Size, to: Size): string | null {
  if (to.diskGiB < from.diskGiB) return `diskGiB: Disks can only grow (now ${from.diskGiB} GiB).`;
  return null;
}
