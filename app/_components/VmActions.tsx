'use client';
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { transition, isVmState, type VmEvent } from '@/server/domain/vmState';
import type { VmAction } from '@/server/domain/permissions';
import { useTRPC } from '../_lib/trpc';
import { useToast } from './Toast';
import { ConfirmDialog } from './ConfirmDialog';

export interface VmLike { id: string; name: string; state: string; rights: VmAction[] }

type Lifecycle = 'start' | 'stop' | 'forceStop' | 'reboot';
const LABEL: Record<Lifecycle, string> = { start: 'Start', stop: 'Stop', forceStop: 'Force stop', reboot: 'Reboot' };

function allowed(state: string, event: VmEvent): boolean {
  return isVmState(state) && transition(state, event).ok;
}

/** The lifecycle buttons a viewer may use on a VM in its current state. */
export function VmActions({ vm, compact, onDeleted }: { vm: VmLike; compact?: boolean; onDeleted?: () => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const [inlineError, setInlineError] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const refresh = () => Promise.all([
    qc.invalidateQueries({ queryKey: trpc.vm.pathKey() }),
    qc.invalidateQueries({ queryKey: trpc.account.quota.queryKey() }),
    qc.invalidateQueries({ queryKey: trpc.audit.pathKey() }),
  ]);
  const handlers = (label: string) => ({
    onMutate: () => setInlineError(null),
    onSuccess: () => { toast.show('ok', `${label}: ${vm.name}`); },
    onError: (e: { message: string }) => {
      setInlineError(e.message);
      toast.show('error', `${label} failed for ${vm.name}`, e.message);
    },
    onSettled: () => void refresh(),
  });
  const start = useMutation(trpc.vm.start.mutationOptions(handlers('Start')));
  const stop = useMutation(trpc.vm.stop.mutationOptions(handlers('Stop')));
  const forceStop = useMutation(trpc.vm.forceStop.mutationOptions(handlers('Force stop')));
  const reboot = useMutation(trpc.vm.reboot.mutationOptions(handlers('Reboot')));
  const del = useMutation(trpc.vm.delete.mutationOptions({
    onSuccess: () => { setConfirmDelete(false); toast.show('ok', `Deleted ${vm.name}`); onDeleted?.(); },
    onError: (e) => { setConfirmDelete(false); setInlineError(e.message); toast.show('error', `Delete failed for ${vm.name}`, e.message); },
    onSettled: () => void refresh(),
  }));
  const muts = { start, stop, forceStop, reboot };
  const busy = Object.values(muts).some((m) => m.isPending) || del.isPending;
  const canOperate = vm.rights.includes('operate');
  const canDelete = vm.rights.includes('delete');
  const needsForce = !allowed(vm.state, 'delete') && allowed(vm.state, 'forceDelete');
  const shown = (Object.keys(LABEL) as Lifecycle[]).filter((a) => canOperate && allowed(vm.state, a));
  if (compact && shown.length === 0 && !canDelete) return <span className="muted small">View only</span>;
  return (
    <div className="vm-actions-wrap">
      <div className={`btn-row ${compact ? 'btn-row-compact' : ''}`} role="group" aria-label={`Actions for ${vm.name}`}>
        {shown.map((a) => (
          <button
            key={a}
            type="button"
            className={`btn btn-sm ${a === 'start' ? 'btn-primary' : a === 'forceStop' ? 'btn-warn' : ''}`}
            disabled={busy}
            onClick={() => muts[a].mutate({ id: vm.id })}
            aria-label={compact ? `${LABEL[a]} ${vm.name}` : undefined}
          >
            {muts[a].isPending ? `${LABEL[a]}…` : LABEL[a]}
          </button>
        ))}
        {canDelete ? (
          <button type="button" className="btn btn-sm btn-danger-outline" disabled={busy || vm.state === 'deleting'} onClick={() => setConfirmDelete(true)}
            aria-label={compact ? `Delete ${vm.name}` : undefined}>
            Delete
          </button>
        ) : null}
      </div>
      {!compact && inlineError ? <div className="inline-error" role="alert">{inlineError}</div> : null}
      {canDelete ? (
        <ConfirmDialog
          open={confirmDelete}
          title={needsForce ? `Force delete ${vm.name}?` : `Delete ${vm.name}?`}
          confirmLabel={needsForce ? 'Force delete' : 'Delete'}
          danger
          busy={del.isPending}
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() => del.mutate({ id: vm.id, force: needsForce || undefined })}
        >
          <p>The VM and its disk are removed for good. This cannot be undone.</p>
          {needsForce ? <p className="warn-text">It is {vm.state}: it will be powered off without a clean shutdown.</p> : null}
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
