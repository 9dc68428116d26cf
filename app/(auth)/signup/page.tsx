'use client';
import { useDocumentTitle } from '../../_lib/title';
import { useEffect } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { AccountForm } from '../../_components/AccountForm';
import { Loading } from '../../_components/States';

export default function SignUpPage() {
  useDocumentTitle('Create an account');
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const status = useQuery(trpc.auth.status.queryOptions());
  const signUp = useMutation(trpc.auth.signUp.mutationOptions({
    onSuccess: () => { qc.clear(); router.replace('/'); },
  }));
  useEffect(() => {
    if (status.data?.needsSetup) router.replace('/setup');
  }, [status.data, router]);
  if (status.isPending || status.data?.needsSetup) return <Loading rows={4} />;
  if (!status.data?.signupEnabled) {
    return (
      <>
        <h1>Sign-up is closed</h1>
        <p className="muted">This panel does not accept new accounts on its own. Ask an administrator for one.</p>
        <Link href="/signin" className="btn btn-primary btn-block">Back to sign in</Link>
      </>
    );
  }
  return (
    <>
      <h1>Create an account</h1>
      <p className="muted">You get the panel&apos;s default quota; an administrator can raise it.</p>
      <AccountForm submitLabel="Create account" busyLabel="Creating…" pending={signUp.isPending} error={signUp.error}
        onSubmit={(v) => signUp.mutate(v)} />
      <p className="auth-alt">Already have an account? <Link href="/signin">Sign in</Link></p>
    </>
  );
}
