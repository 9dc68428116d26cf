'use client';
import { useDocumentTitle } from '../../_lib/title';
import { useState, type FormEvent } from 'react';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { password as passwordRule, displayName } from '@/server/domain/validation';
import { useTRPC } from '../../_lib/trpc';
import { errorInfo } from '../../_lib/errors';
import { formatDateTime, timeAgo } from '../../_lib/format';
import { useMe } from '../../_components/Me';
import { Field, FormError } from '../../_components/Field';
import { Empty, ErrorBox, Loading, PageHeader } from '../../_components/States';
import { useToast } from '../../_components/Toast';
import { ConfirmDialog } from '../../_components/ConfirmDialog';
import { CopyButton } from '../../_components/CopyButton';

function PasswordCard() {
  const trpc = useTRPC();
  const toast = useToast();
  const [v, setV] = useState({ current: '', next: '', confirm: '' });
  const [submitted, setSubmitted] = useState(false);
  const change = useMutation(trpc.account.changePassword.mutationOptions({
    onSuccess: () => { toast.show('ok', 'Password changed', 'Your other sessions were signed out.'); setV({ current: '', next: '', confirm: '' }); setSubmitted(false); },
  }));
  const np = passwordRule.safeParse(v.next);
  const local = {
    current: v.current ? null : 'Enter your current password.',
    next: np.success ? null : np.error.issues[0]?.message ?? 'Invalid.',
    confirm: v.confirm === v.next ? null : 'The passwords do not match.',
  };
  const server = change.error ? errorInfo(change.error, ['current', 'next']) : null;
  const err = (k: keyof typeof local) => (submitted ? local[k] : null) ?? server?.fields[k] ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!Object.values(local).some(Boolean)) change.mutate({ current: v.current, next: v.next });
  };
  const bind = (k: keyof typeof v) => ({ value: v[k], onChange: (e: { target: { value: string } }) => { setV((s) => ({ ...s, [k]: e.target.value })); change.reset(); } });
  return (
    <section className="card" aria-labelledby="pw-h">
      <h2 id="pw-h">Password</h2>
      <form onSubmit={submit} className="stack" noValidate>
        <Field label="Current password" type="password" autoComplete="current-password" {...bind('current')} error={err('current')} />
        <Field label="New password" type="password" autoComplete="new-password" {...bind('next')} error={err('next')} hint="At least 10 characters. Other sessions are signed out." />
        <Field label="Confirm new password" type="password" autoComplete="new-password" {...bind('confirm')} error={err('confirm')} />
        <FormError message={server && Object.keys(server.fields).length === 0 ? server.message : null} />
        <div><button type="submit" className="btn btn-primary" disabled={change.isPending}>{change.isPending ? 'Saving…' : 'Change password'}</button></div>
      </form>
    </section>
  );
}

function browserOf(ua: string): string {
  if (!ua) return 'Unknown client';
  const b = /(Edg|Firefox|Chrome|Chromium|Safari)\/[\d.]+/.exec(ua)?.[0]?.replace('Edg', 'Edge') ?? ua.slice(0, 40);
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua)?.[0] ?? '';
  return os ? `${b} on ${os}` : b;
}

function SessionsCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const toast = useToast();
  const sessions = useQuery(trpc.account.sessions.queryOptions());
  const [confirmAll, setConfirmAll] = useState(false);
  const revoke = useMutation(trpc.account.revokeSession.mutationOptions({
    onSuccess: () => { toast.show('ok', 'Session ended'); void qc.invalidateQueries({ queryKey: trpc.account.sessions.queryKey() }); },
    onError: (e) => toast.show('error', 'Could not end the session', e.message),
  }));
  const all = useMutation(trpc.auth.signOutEverywhere.mutationOptions({
    onSuccess: () => { qc.clear(); router.replace('/signin'); },
    onError: (e) => { setConfirmAll(false); toast.show('error', 'Could not sign out everywhere', e.message); },
  }));
  return (
    <section className="card" aria-labelledby="sess-h">
      <div className="card-head">
        <h2 id="sess-h">Sessions</h2>
        <button type="button" className="btn btn-sm btn-danger-outline" onClick={() => setConfirmAll(true)}>Sign out everywhere</button>
      </div>
      {sessions.isPending ? <Loading rows={2} /> : sessions.isError ? <ErrorBox message={sessions.error.message} /> : (
        <ul className="rows" aria-label="Active sessions">
          {sessions.data.map((s) => (
            <li key={s.id}>
              <div>
                <div>{browserOf(s.userAgent)} {s.current ? <span className="chip chip-ok">this device</span> : null}</div>
                <div className="muted small">{s.ip || 'unknown address'} · last seen <span title={formatDateTime(s.lastSeenAt)}>{timeAgo(s.lastSeenAt)}</span> · started {formatDateTime(s.createdAt)}</div>
              </div>
              {s.current ? null : (
                <button type="button" className="btn btn-sm" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: s.id })}
                  aria-label={`Revoke session from ${s.ip || 'unknown address'}`}>Revoke</button>
              )}
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog open={confirmAll} title="Sign out everywhere?" confirmLabel="Sign out everywhere" danger busy={all.isPending}
        onCancel={() => setConfirmAll(false)} onConfirm={() => all.mutate()}>
        <p>Every session of your account ends, this one included. API tokens keep working.</p>
      </ConfirmDialog>
    </section>
  );
}

function TokensCard() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const tokens = useQuery(trpc.account.tokens.queryOptions());
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.account.tokens.queryKey() });
  const create = useMutation(trpc.account.createToken.mutationOptions({
    onSuccess: (r) => { setSecret({ name, secret: r.secret }); setName(''); setTouched(false); void refresh(); },
  }));
  const revoke = useMutation(trpc.account.revokeToken.mutationOptions({
    onSuccess: () => { toast.show('ok', 'Token revoked'); void refresh(); },
    onError: (e) => toast.show('error', 'Could not revoke the token', e.message),
  }));
  const nr = displayName.safeParse(name);
  const local = nr.success ? null : nr.error.issues[0]?.message ?? 'Invalid.';
  const server = create.error ? errorInfo(create.error, ['name']) : null;
  return (
    <section className="card stack" aria-labelledby="tok-h">
      <h2 id="tok-h">API tokens</h2>
      <p className="muted small">Tokens act as you in the API (header <code>Authorization: Bearer …</code>). They cannot change your password or sessions.</p>
      {secret ? (
        <div className="secret" role="status">
          <div><strong>Token “{secret.name}” created.</strong> Copy it now: it will not be shown again.</div>
          <div className="secret-row">
            <code className="secret-value" aria-label="New token secret">{secret.secret}</code>
            <CopyButton text={secret.secret} />
          </div>
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setSecret(null)}>Done</button>
        </div>
      ) : null}
      <form className="inline-form" noValidate onSubmit={(e) => { e.preventDefault(); setTouched(true); if (!local) create.mutate({ name }); }}>
        <Field label="Token name" placeholder="ci-deploy" value={name} onChange={(e) => { setName(e.target.value); create.reset(); }}
          error={(touched ? local : null) ?? server?.fields.name ?? null} />
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>Create token</button>
        <FormError message={server && !server.fields.name ? server.message : null} />
      </form>
      {tokens.isPending ? <Loading rows={2} /> : tokens.isError ? <ErrorBox message={tokens.error.message} /> :
        tokens.data.length === 0 ? <Empty title="No API tokens" /> : (
          <ul className="rows" aria-label="API tokens">
            {tokens.data.map((t) => (
              <li key={t.id}>
                <div>
                  <div>{t.name} <code className="muted small">{t.prefix}…</code></div>
                  <div className="muted small">created {timeAgo(t.createdAt)} · last used {timeAgo(t.lastUsedAt)}</div>
                </div>
                <button type="button" className="btn btn-sm btn-danger-outline" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: t.id })}
                  aria-label={`Revoke token ${t.name}`}>Revoke</button>
              </li>
            ))}
          </ul>
        )}
    </section>
  );
}

export default function AccountPage() {
  const me = useMe();
  useDocumentTitle('Account');
  return (
    <>
      <PageHeader title="Account" subtitle={`${me.name} · ${me.email}`} />
      <div className="grid-2">
        <PasswordCard />
        <SessionsCard />
      </div>
      <TokensCard />
    </>
  );
}
