'use client';
import { useDocumentTitle } from '../../_lib/title';
import { useEffect, useState, type FormEvent } from 'react';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { AccountForm } from '../../_components/AccountForm';
import { Loading } from '../../_components/States';

export default function SetupPage() {
  useDocumentTitle('Set up');
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const status = useQuery(trpc.auth.status.queryOptions());
  const setup = useMutation(trpc.auth.setup.mutationOptions({
    onSuccess: () => { qc.clear(); router.replace('/'); },
  }));
  useEffect(() => {
    if (status.data && !status.data.needsSetup && !setup.isSuccess) router.replace('/signin');
  }, [status.data, router, setup.isSuccess]);
  if (status.isPending || (status.data && !status.data.needsSetup)) return <Loading rows={4} />;
  return (
    <>
      <h1>Set up the panel</h1>
      <p className="muted">Create the first administrator account. You can add more users afterwards.</p>
      <AccountForm submitLabel="Create administrator" busyLabel="Creating…" pending={setup.isPending} error={setup.error}
        onSubmit={(v) => setup.mutate(v)} />
    </>
  );
}
