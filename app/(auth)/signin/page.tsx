'use client';
import { useDocumentTitle } from '../../_lib/title';
import { useEffect, useState, type FormEvent } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { errorInfo } from '../../_lib/errors';
import { Field, FormError } from '../../_components/Field';
import { Loading } from '../../_components/States';

export default function SignInPage() {
  useDocumentTitle('Sign in');
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const status = useQuery(trpc.auth.status.queryOptions());
  const me = useQuery(trpc.auth.me.queryOptions());
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation(trpc.auth.signIn.mutationOptions({
    onSuccess: () => { qc.clear(); router.replace('/'); },
  }));

  useEffect(() => {
    if (status.data?.needsSetup) router.replace('/setup');
    else if (me.data) router.replace('/');
  }, [status.data, me.data, router]);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate({ email, password });
  };
  const err = signIn.error ? errorInfo(signIn.error, ['email', 'password']) : null;

  if (status.isPending || status.data?.needsSetup) return <Loading rows={3} />;
  return (
    <>
      <h1>Sign in</h1>
      <p className="muted">Welcome back. Sign in to manage your virtual machines.</p>
      <form onSubmit={onSubmit} className="stack" noValidate>
        <Field label="Email" type="email" name="email" autoComplete="username" required value={email}
          onChange={(e) => setEmail(e.target.value)} error={err?.fields.email} />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} error={err?.fields.password} />
        <FormError message={err && !err.fields.email && !err.fields.password ? err.message : null} />
        <button type="submit" className="btn btn-primary btn-block" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {status.data?.signupEnabled ? (
        <p className="auth-alt">No account yet? <Link href="/signup">Create one</Link></p>
      ) : null}
    </>
  );
}
