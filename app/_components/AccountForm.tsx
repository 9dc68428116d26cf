'use client';
import { useState, type FormEvent } from 'react';
import { displayName, email as emailRule, password as passwordRule } from '@/server/domain/validation';
import { errorInfo } from '../_lib/errors';
import { Field, FormError } from './Field';

function firstIssue(schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { message: string }[] } } }, v: string) {
  const r = schema.safeParse(v);
  return r.success ? null : r.error?.issues[0]?.message ?? 'Invalid.';
}

export interface AccountValues { name: string; email: string; password: string }

/** Name, email, password (with confirmation): first-run setup and self sign-up. */
export function AccountForm({ submitLabel, busyLabel, pending, error, onSubmit }: {
  submitLabel: string; busyLabel: string; pending: boolean; error: unknown; onSubmit: (v: AccountValues) => void;
}) {
  const [v, setV] = useState({ name: '', email: '', password: '', confirm: '' });
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [submitted, setSubmitted] = useState(false);
  const local = {
    name: firstIssue(displayName, v.name),
    email: firstIssue(emailRule, v.email),
    password: firstIssue(passwordRule, v.password),
    confirm: v.confirm !== v.password ? 'The passwords do not match.' : null,
  };
  const server = error ? errorInfo(error, ['name', 'email', 'password']) : null;
  const show = (k: keyof typeof local) => ((touched[k] || submitted) ? local[k] : null) ?? server?.fields[k] ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.values(local).some(Boolean)) return;
    onSubmit({ name: v.name, email: v.email, password: v.password });
  };
  const bind = (k: keyof typeof v) => ({
    value: v[k],
    onChange: (e: { target: { value: string } }) => setV((s) => ({ ...s, [k]: e.target.value })),
    onBlur: () => setTouched((t) => ({ ...t, [k]: true })),
  });
  const formMsg = server && Object.keys(server.fields).length === 0 ? server.message : null;
  return (
    <form onSubmit={submit} className="stack" noValidate>
      <Field label="Name" autoComplete="name" required {...bind('name')} error={show('name')} />
      <Field label="Email" type="email" autoComplete="email" required {...bind('email')} error={show('email')} />
      <Field label="Password" type="password" autoComplete="new-password" required {...bind('password')} error={show('password')}
        hint="At least 10 characters." />
      <Field label="Confirm password" type="password" autoComplete="new-password" required {...bind('confirm')} error={show('confirm')} />
      <FormError message={formMsg} />
      <button type="submit" className="btn btn-primary btn-block" disabled={pending}>{pending ? busyLabel : submitLabel}</button>
    </form>
  );
}
