'use client';
import { Fragment, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { QUOTA_RESOURCES, type QuotaAmounts } from '@/server/domain/quota';
import { USER_ROLES, type UserRole } from '@/server/domain/permissions';
import { displayName, email as emailRule, password as passwordRule } from '@/server/domain/validation';
import { useTRPC } from '../../_lib/trpc';
import { useFallbackPoll } from '../../_lib/live';
import { errorInfo } from '../../_lib/errors';
import { Field, FormError, SelectField } from '../Field';
import { Empty, ErrorBox, Loading } from '../States';
import { QuotaFields, draftOf, parseDraft, type QuotaDraft } from '../QuotaFields';
import { formatAmount, USAGE_LABEL } from '../UsageBars';
import { useToast } from '../Toast';
import { useMe } from '../Me';

function firstIssue(schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { message: string }[] } } }, v: unknown) {
  const r = schema.safeParse(v);
  return r.success ? null : r.error?.issues[0]?.message ?? 'Invalid.';
}

const DEFAULT_DRAFT: QuotaDraft = { vms: '', vcpus: '', memoryMiB: '', diskGiB: '', runningVms: '' };

function CreateUser({ onDone }: { onDone: () => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const settings = useQuery(trpc.admin.settings.queryOptions());
  const [v, setV] = useState({ name: '', email: '', password: '', role: 'user' as UserRole });
  const [customQuota, setCustomQuota] = useState(false);
  const [draft, setDraft] = useState<QuotaDraft>(DEFAULT_DRAFT);
  const [submitted, setSubmitted] = useState(false);
  const create = useMutation(trpc.admin.createUser.mutationOptions({
    onSuccess: () => { toast.show('ok', `Created ${v.email}`); void qc.invalidateQueries({ queryKey: trpc.admin.users.queryKey() }); onDone(); },
  }));
  const q = parseDraft(draft);
  const local = { name: firstIssue(displayName, v.name), email: firstIssue(emailRule, v.email), password: firstIssue(passwordRule, v.password) };
  const server = create.error ? errorInfo(create.error, ['name', 'email', 'password', 'role']) : null;
  const err = (k: keyof typeof local) => (submitted ? local[k] : null) ?? server?.fields[k] ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.values(local).some(Boolean) || (customQuota && !q.value)) return;
    create.mutate({ ...v, ...(customQuota && q.value ? { quota: q.value } : {}) });
  };
  const bind = (k: 'name' | 'email' | 'password') => ({ value: v[k], onChange: (e: { target: { value: string } }) => setV((s) => ({ ...s, [k]: e.target.value })) });
  return (
    <form className="card stack" onSubmit={submit} noValidate aria-labelledby="newuser-h">
      <h3 id="newuser-h">New user</h3>
      <div className="grid-2 tight">
        <Field label="Name" autoComplete="off" {...bind('name')} error={err('name')} />
        <Field label="Email" type="email" autoComplete="off" {...bind('email')} error={err('email')} />
        <Field label="Initial password" type="password" autoComplete="new-password" {...bind('password')} error={err('password')} hint="At least 10 characters; tell the user to change it." />
        <SelectField label="Role" value={v.role} onChange={(e) => setV((s) => ({ ...s, role: e.target.value as UserRole }))} error={server?.fields.role}>
          {USER_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
        </SelectField>
      </div>
      <label className="check">
        <input type="checkbox" checked={customQuota} onChange={(e) => {
          setCustomQuota(e.target.checked);
          if (e.target.checked && settings.data && draft.vms === '') setDraft(draftOf(settings.data.defaultQuota));
        }} />
        Set a quota now (otherwise the panel&apos;s default quota applies)
      </label>
      {customQuota ? <QuotaFields draft={draft} onChange={setDraft} errors={{ ...(submitted ? q.errors : {}), ...(server?.fields ?? {}) }} /> : null}
      <FormError message={server && Object.keys(server.fields).length === 0 ? server.message : null} />
      <div className="btn-row">
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>{create.isPending ? 'Creating…' : 'Create user'}</button>
        <button type="button" className="btn btn-ghost" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

interface UserRow {
  id: string; email: string; name: string; role: string; disabled: boolean;
  limits: QuotaAmounts | null; usage: QuotaAmounts; over: string[];
}

function EditUser({ user, onDone }: { user: UserRow; onDone: () => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const toast = useToast();
  const me = useMe();
  const [role, setRole] = useState(user.role as UserRole);
  const [disabled, setDisabled] = useState(user.disabled);
  const [draft, setDraft] = useState<QuotaDraft>(user.limits ? draftOf(user.limits) : DEFAULT_DRAFT);
  const [pw, setPw] = useState('');
  const [warning, setWarning] = useState<string | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });
  const update = useMutation(trpc.admin.updateUser.mutationOptions({
    onSuccess: (r) => { setWarning(r.warning); toast.show('ok', `Saved ${user.email}`); void refresh(); },
  }));
  const reset = useMutation(trpc.admin.updateUser.mutationOptions({
    onSuccess: () => { setPw(''); toast.show('ok', `Password reset for ${user.email}`, 'Their sessions were ended.'); },
  }));
  const q = parseDraft(draft);
  const server = update.error ? errorInfo(update.error, ['role', 'disabled', 'name']) : null;
  const pwLocal = pw ? firstIssue(passwordRule, pw) : null;
  const pwServer = reset.error ? errorInfo(reset.error, ['password']) : null;
  // What the new quota would leave over-used (allowed, but the admin should know before saving).
  const overPreview = q.value ? Object.fromEntries(QUOTA_RESOURCES.filter((r) => user.usage[r] > q.value![r]).map((r) => [r, `Below current usage (${formatAmount(r, user.usage[r])}).`])) : {};
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!q.value) return;
    setWarning(null);
    update.mutate({
      id: user.id,
      ...(role !== user.role ? { role } : {}),
      ...(disabled !== user.disabled ? { disabled } : {}),
      quota: q.value,
    });
  };
  const self = user.id === me.id;
  return (
    <div className="edit-user stack">
      <form onSubmit={save} className="stack" noValidate aria-label={`Edit ${user.email}`}>
        <div className="grid-2 tight">
          <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value as UserRole)} error={server?.fields.role}>
            {USER_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </SelectField>
          <div className="field">
            <span className="field-label-spacer" aria-hidden="true">&nbsp;</span>
            <label className="check">
              <input type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
              Account disabled{self ? ' (this is you)' : ''}
            </label>
          </div>
        </div>
        <QuotaFields draft={draft} onChange={setDraft} errors={{ ...q.errors, ...(server?.fields ?? {}) }} over={overPreview} />
        {warning ? <div className="alert alert-warn" role="alert"><div><strong>Over limit</strong><div>{warning}</div></div></div> : null}
        <FormError message={server && Object.keys(server.fields).length === 0 ? server.message : null} />
        <div className="btn-row">
          <button type="submit" className="btn btn-primary" disabled={update.isPending || !q.value}>{update.isPending ? 'Saving…' : 'Save changes'}</button>
          <button type="button" className="btn btn-ghost" onClick={onDone}>Close</button>
        </div>
      </form>
      <form className="inline-form" noValidate aria-label={`Reset password for ${user.email}`}
        onSubmit={(e) => { e.preventDefault(); if (pw && !pwLocal) reset.mutate({ id: user.id, password: pw }); }}>
        <Field label="New password" type="password" autoComplete="new-password" value={pw} onChange={(e) => { setPw(e.target.value); reset.reset(); }}
          error={pwLocal ?? pwServer?.fields.password ?? (pwServer && !pwServer.fields.password ? pwServer.message : null)} />
        <button type="submit" className="btn" disabled={!pw || reset.isPending}>Reset password</button>
      </form>
    </div>
  );
}

export function UsersSection() {
  const trpc = useTRPC();
  const poll = useFallbackPoll();
  const users = useQuery(trpc.admin.users.queryOptions(undefined, { refetchInterval: poll }));
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <section className="section" aria-labelledby="users-h" id="users">
      <div className="section-head">
        <h2 id="users-h">Users</h2>
        {users.data ? <span className="count">{users.data.length}</span> : null}
        <span className="spacer" />
        {!adding ? <button type="button" className="btn btn-primary btn-sm" onClick={() => setAdding(true)}>+ Add user</button> : null}
      </div>
      {adding ? <CreateUser onDone={() => setAdding(false)} /> : null}
      {users.isPending ? <Loading rows={3} /> : users.isError ? <ErrorBox message={users.error.message} /> : users.data.length === 0 ? <Empty title="No users" /> : (
        <div className="table-wrap">
          <table className="table table-stack" aria-label="Users">
            <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Usage</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {users.data.map((u) => (
                <Fragment key={u.id}>
                  <tr className={u.disabled ? 'row-muted' : ''}>
                    <td data-label="User"><div>{u.name}</div><div className="muted small">{u.email}</div></td>
                    <td data-label="Role">
                      <span className="chip">{u.role}</span>{u.disabled ? <span className="chip chip-bad">disabled</span> : null}
                    </td>
                    <td data-label="Usage" className="small">
                      {u.limits ? QUOTA_RESOURCES.map((r) => (
                        <span key={r} className={`usage-pill ${u.over.includes(r) ? 'bad' : ''}`}>
                          {USAGE_LABEL[r]} {formatAmount(r, u.usage[r])}/{formatAmount(r, u.limits![r])}
                        </span>
                      )) : <span className="muted">no quota</span>}
                      {u.over.length ? <div className="warn-text small">Over limit: {u.over.map((r) => USAGE_LABEL[r as keyof typeof USAGE_LABEL] ?? r).join(', ')}</div> : null}
                    </td>
                    <td className="cell-actions">
                      <button type="button" className="btn btn-sm" aria-expanded={editing === u.id} onClick={() => setEditing(editing === u.id ? null : u.id)}
                        aria-label={`Edit ${u.email}`}>{editing === u.id ? 'Close' : 'Edit'}</button>
                    </td>
                  </tr>
                  {editing === u.id ? (
                    <tr className="row-edit"><td colSpan={4}><EditUser user={u} onDone={() => setEditing(null)} /></td></tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
