'use client';
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { SHARE_ROLES, type ShareRole } from '@/server/domain/permissions';
import { email as emailRule } from '@/server/domain/validation';
import { useTRPC } from '../_lib/trpc';
import { useFallbackPoll } from '../_lib/live';
import { errorInfo } from '../_lib/errors';
import { Field, FormError, SelectField } from './Field';
import { Empty, ErrorBox, Loading } from './States';
import { RoleBadge } from './StateBadge';
import { useToast } from './Toast';

const ROLE_HELP: Record<ShareRole, string> = {
  viewer: 'sees the VM',
  console: 'sees it and opens its console',
  operator: 'also starts, stops and reboots it',
};

export function SharesPanel({ vmId, canShare }: { vmId: string; canShare: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const shares = useQuery(trpc.share.list.queryOptions({ id: vmId }, { refetchInterval: useFallbackPoll() }));
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<ShareRole>('viewer');
  const [touched, setTouched] = useState(false);
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.share.list.queryKey({ id: vmId }) });
  const add = useMutation(trpc.share.add.mutationOptions({
    onSuccess: () => { toast.show('ok', `Shared with ${email} as ${role}`); setEmail(''); setTouched(false); void refresh(); },
  }));
  const update = useMutation(trpc.share.update.mutationOptions({
    onSuccess: () => void refresh(),
    onError: (e) => toast.show('error', 'Could not change the role', e.message),
  }));
  const revoke = useMutation(trpc.share.revoke.mutationOptions({
    onSuccess: () => { toast.show('ok', 'Access revoked'); void refresh(); },
    onError: (e) => toast.show('error', 'Could not revoke access', e.message),
  }));
  const local = emailRule.safeParse(email).success ? null : 'Not a valid email address.';
  const server = add.error ? errorInfo(add.error, ['email', 'role']) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!local) add.mutate({ vmId, email, role });
  };
  return (
    <section className="card stack" aria-labelledby="shares-h">
      <h2 id="shares-h">Shared with</h2>
      {shares.isPending ? <Loading rows={2} /> : shares.isError ? <ErrorBox message={shares.error.message} onRetry={() => void shares.refetch()} /> :
        shares.data.length === 0 ? <Empty title="Not shared with anyone" /> : (
          <ul className="share-list" aria-label="People with access">
            {shares.data.map((s) => (
              <li key={s.userId}>
                <div className="share-who">
                  <span className="avatar avatar-sm" aria-hidden="true">{(s.name || s.email).slice(0, 1).toUpperCase()}</span>
                  <div><div>{s.name}</div><div className="muted small">{s.email}</div></div>
                </div>
                {canShare ? (
                  <div className="share-ctl">
                    <label className="sr-only" htmlFor={`role-${s.userId}`}>Role for {s.email}</label>
                    <select id={`role-${s.userId}`} value={s.role} disabled={update.isPending}
                      onChange={(e) => update.mutate({ vmId, userId: s.userId, role: e.target.value as ShareRole })}>
                      {SHARE_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                    </select>
                    <button type="button" className="btn btn-sm btn-danger-outline" disabled={revoke.isPending}
                      onClick={() => revoke.mutate({ vmId, userId: s.userId })} aria-label={`Revoke access for ${s.email}`}>
                      Revoke
                    </button>
                  </div>
                ) : <RoleBadge role={s.role} />}
              </li>
            ))}
          </ul>
        )}
      {canShare ? (
        <form onSubmit={submit} className="share-form" aria-label="Share this VM" noValidate>
          <Field label="Share with (email)" type="email" autoComplete="off" value={email} className="grow"
            onChange={(e) => { setEmail(e.target.value); add.reset(); }} onBlur={() => email && setTouched(true)}
            error={(touched ? local : null) ?? server?.fields.email ?? null} />
          <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as ShareRole)} hint={ROLE_HELP[role]}>
            {SHARE_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </SelectField>
          <div className="share-submit"><button type="submit" className="btn btn-primary" disabled={add.isPending}>Share</button></div>
          <FormError message={server && !server.fields.email ? server.message : null} />
        </form>
      ) : null}
    </section>
  );
}
