'use client';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useTRPC } from '../_lib/trpc';

export interface Me { id: string; email: string; name: string; role: 'admin' | 'user' }

const MeCtx = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeCtx);
  if (!me) throw new Error('useMe outside RequireAuth');
  return me;
}

/** Renders children only for a signed-in user; everyone else goes to sign-in (or first-run setup). */
export function RequireAuth({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const trpc = useTRPC();
  const router = useRouter();
  const me = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 30_000 }));
  useEffect(() => {
    if (me.isSuccess && !me.data) router.replace('/signin');
  }, [me.isSuccess, me.data, router]);
  if (me.isError) {
    return (
      <div className="center-page">
        <div className="card narrow" role="alert">
          <h1>The panel cannot be reached</h1>
          <p className="muted">{me.error.message}</p>
          <button type="button" className="btn btn-primary" onClick={() => void me.refetch()}>Try again</button>
        </div>
      </div>
    );
  }
  if (!me.data) return <>{fallback}</>;
  return <MeCtx.Provider value={me.data as Me}>{children}</MeCtx.Provider>;
}
