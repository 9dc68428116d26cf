'use client';
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { transition, isVmState, type VmEvent } from '@/server/domain/vmState';
import type { VmAction } from '@/server/domain/permissions';
import { useTRPC } from '../_lib/trpc';
import { useToast } from './Toast';
import { ConfirmDialog } from './ConfirmDialog';

export interface VmLike { id: string; name: string; state: string; rights: VmAction[] }

type Lifecycle = 'start' | 'stop' | 'forceStop' | 'reboot' | 'reset';
const LABEL: Record<Lifecycle, string> = { start: 'Start', stop: 'Stop', forceStop: 'Force stop', reboot: 'Reboot', reset: 'Reset' };
/** The state-machine event behind each button (a reset is a forced reboot). */
const EVENT: Record<Lifecycle, VmEvent> = { start: 'start', stop: 'stop', forceStop: 'forceStop', reboot: 'reboot', reset: 'reboot' };
/** Pulling the plug asks first, as in Proxmox. */
const CONFIRM: Partial<Record<Lifecycle, string>> = {
  forceStop: 'The VM is powered off at once, like pulling the plug: anything the guest has not written to disk is lost.',
  reset: 'The VM restarts at once, like pressing the reset button: anything the guest has not written to disk is lost.',
};
// What each does, as in Proxmox: stop and reboot ask the guest (ACPI power button), force stop pulls the plug.
const HINT: Record<Lifecycle, string> = {
  start: 'Power the VM on',
  stop: 'Ask the guest to shut down; it is forced off if it has not after the timeout',
  forceStop: 'Power off at once, without a clean shutdown',
  reboot: 'Ask the guest to restart; it is reset if it has not after the timeout',
  reset: 'Restart at once, without a clean shutdown',
};

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
  const [confirming, setConfirming] = useState<Lifecycle | null>(null);
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
  const reset = useMutation(trpc.vm.reset.mutationOptions(handlers('Reset')));
  const del = useMutation(trpc.vm.delete.mutationOptions({
    onSuccess: () => { setConfirmDelete(false); toast.show('ok', `Deleted ${vm.name}`); onDeleted?.(); },
    onError: (e) => { setConfirmDelete(false); setInlineError(e.message); toast.show('error', `Delete failed for ${vm.name}`, e.message); },
    onSettled: () => void refresh(),
  }));
  const muts = { start, stop, forceStop, reboot, reset };
  const busy = Object.values(muts).some((m) => m.isPending) || del.isPending;
  const canOperate = vm.rights.includes('operate');
  const canDelete = vm.rights.includes('delete');
  const needsForce = !allowed(vm.state, 'delete') && allowed(vm.state, 'forceDelete');
  const shown = (Object.keys(LABEL) as Lifecycle[])
    .filter((a) => canOperate && allowed(vm.state, EVENT[a]))
    // Rows in a table stay short: the hard actions live on the VM page (force stop also while a stop waits).
    .filter((a) => !compact || (a !== 'reset' && (a !== 'forceStop' || vm.state === 'stopping')));
  if (compact && shown.length === 0 && !canDelete) return <span className="muted small">View only</span>;
  return (
    <div className="vm-actions-wrap">
      <div className={`btn-row ${compact ? 'btn-row-compact' : ''}`} role="group" aria-label={`Actions for ${vm.name}`}>
        {shown.map((a) => (
          <button
            key={a}
            type="button"
            className={`btn btn-sm ${a === 'start' ? 'btn-primary' : CONFIRM[a] ? 'btn-warn' : ''}`}
            disabled={busy}
            onClick={() => (CONFIRM[a] ? setConfirming(a) : muts[a].mutate({ id: vm.id }))}
            title={HINT[a]}
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
      {canOperate ? (
        <ConfirmDialog
          open={confirming !== null}
          title={`${confirming ? LABEL[confirming] : ''} ${vm.name}?`}
          confirmLabel={confirming ? LABEL[confirming] : ''}
          danger
          onCancel={() => setConfirming(null)}
          onConfirm={() => { if (confirming) muts[confirming].mutate({ id: vm.id }); setConfirming(null); }}
        >
          <p>{confirming ? CONFIRM[confirming] : null}</p>
          {confirming === 'forceStop' && vm.state === 'stopping' ? <p>It is already shutting down; forcing skips the rest of the wait.</p> : null}
        </ConfirmDialog>
      ) : null}
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
