import type { VmState } from '@/server/domain/vmState';

const TONE: Record<VmState, string> = {
  running: 'ok', starting: 'busy', stopping: 'busy', creating: 'busy', deleting: 'busy',
  stopped: 'idle', crashed: 'bad', error: 'bad',
};

export function StateBadge({ state }: { state: string }) {
  const tone = TONE[state as VmState] ?? 'idle';
  return (
    <span className={`badge badge-${tone}`}>
      <span className="dot" aria-hidden="true" />
      {state}
    </span>
  );
}

export function RoleBadge({ role }: { role: string }) {
  return <span className="chip">{role}</span>;
}
