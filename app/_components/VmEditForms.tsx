'use client';
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { checkQuota, deltaForResize } from '@/server/domain/quota';
import { diskGiB, memoryMiB, vcpus, vmName } from '@/server/domain/validation';
import { isVmState, resizeRefusal, transition } from '@/server/domain/vmState';
import { useTRPC } from '../_lib/trpc';
import { errorInfo, quotaFieldErrors } from '../_lib/errors';
import { Field, FormError } from './Field';
import { useToast } from './Toast';
import { useMe } from './Me';

interface Vm { id: string; name: string; state: string; vcpus: number; memoryMiB: number; diskGiB: number; owner: { id: string } | null }

function issue(schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { message: string }[] } } }, v: unknown) {
  const r = schema.safeParse(v);
  return r.success ? null : r.error?.issues[0]?.message ?? 'Invalid.';
}

export function RenameForm({ vm }: { vm: Vm }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState(vm.name);
  const rename = useMutation(trpc.vm.rename.mutationOptions({
    onSuccess: () => { toast.show('ok', `Renamed to ${name}`); void qc.invalidateQueries({ queryKey: trpc.vm.pathKey() }); },
  }));
  const local = name === vm.name ? null : issue(vmName, name);
  const server = rename.error ? errorInfo(rename.error, ['name']) : null;
  const submit = (e: FormEvent) => { e.preventDefault(); if (!local && name !== vm.name) rename.mutate({ id: vm.id, name }); };
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Rename VM">
      <Field label="Name" value={name} spellCheck={false} onChange={(e) => { setName(e.target.value); rename.reset(); }}
        error={local ?? server?.fields.name ?? null} />
      <button type="submit" className="btn" disabled={rename.isPending || name === vm.name || !!local}>Rename</button>
      <FormError message={server && !server.fields.name ? server.message : null} />
    </form>
  );
}

export function ResizeForm({ vm }: { vm: Vm }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const me = useMe();
  const mine = vm.owner?.id === me.id;
  const quota = useQuery(trpc.account.quota.queryOptions(undefined, { enabled: mine }));
  const [v, setV] = useState({ vcpus: String(vm.vcpus), memoryMiB: String(vm.memoryMiB), diskGiB: String(vm.diskGiB) });
  const resize = useMutation(trpc.vm.resize.mutationOptions({
    onSuccess: () => {
      toast.show('ok', `Resized ${vm.name}`);
      void qc.invalidateQueries({ queryKey: trpc.vm.pathKey() });
      void qc.invalidateQueries({ queryKey: trpc.account.quota.queryKey() });
    },
  }));
  const to = { vcpus: Number(v.vcpus), memoryMiB: Number(v.memoryMiB), diskGiB: Number(v.diskGiB) };
  const stateOk = isVmState(vm.state) && transition(vm.state, 'resize').ok;
  const refusal = resizeRefusal(vm, to);
  const local = {
    vcpus: issue(vcpus, to.vcpus),
    memoryMiB: issue(memoryMiB, to.memoryMiB),
    diskGiB: issue(diskGiB, to.diskGiB) ?? (refusal?.startsWith('diskGiB: ') ? refusal.slice(9) : null),
  };
  const valid = !local.vcpus && !local.memoryMiB && !local.diskGiB;
  const decision = mine && quota.data && valid ? checkQuota(quota.data.limits, quota.data.usage, deltaForResize(vm, to)) : null;
  const quotaErrs = decision && !decision.ok ? quotaFieldErrors(decision.violations, { vcpus: 'vcpus', memoryMiB: 'memoryMiB', diskGiB: 'diskGiB' }) : {};
  const server = resize.error ? errorInfo(resize.error, ['vcpus', 'memoryMiB', 'diskGiB']) : null;
  const serverFields = server ? { ...server.fields, ...quotaFieldErrors(server.quota, { vcpus: 'vcpus', memoryMiB: 'memoryMiB', diskGiB: 'diskGiB' }) } : {};
  const changed = to.vcpus !== vm.vcpus || to.memoryMiB !== vm.memoryMiB || to.diskGiB !== vm.diskGiB;
  const err = (k: keyof typeof local) => local[k] ?? quotaErrs[k] ?? serverFields[k] ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!valid || (decision && !decision.ok) || !changed) return;
    resize.mutate({ id: vm.id, ...to });
  };
  const bind = (k: keyof typeof v) => ({
    value: v[k], type: 'number', inputMode: 'numeric' as const,
    onChange: (e: { target: { value: string } }) => { setV((s) => ({ ...s, [k]: e.target.value })); resize.reset(); },
  });
  const formMsg = server && Object.keys(serverFields).filter((k) => k !== '_').length === 0 ? server.message : null;
  return (
    <form onSubmit={submit} className="stack" aria-label="Resize VM">
      <div className="grid-3">
        <Field label="vCPUs" min={1} max={64} {...bind('vcpus')} error={err('vcpus')} />
        <Field label="Memory (MiB)" min={32} step={64} {...bind('memoryMiB')} error={err('memoryMiB')} />
        <Field label="Disk (GiB)" min={vm.diskGiB} {...bind('diskGiB')} error={err('diskGiB')} hint="Disks only grow." />
      </div>
      {!stateOk ? <p className="muted small">Stop the VM before resizing it.</p> : null}
      <FormError message={formMsg} />
      <div><button type="submit" className="btn" disabled={!stateOk || !changed || resize.isPending}>{resize.isPending ? 'Resizing…' : 'Resize'}</button></div>
    </form>
  );
}
