'use client';
import { useState, type ReactNode } from 'react';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@/server/api/root';
import { TRPCProvider } from './_lib/trpc';
import { ToastProvider } from './_components/Toast';

function codeOf(e: unknown): string | undefined {
  return (e as { data?: { code?: string } } | null)?.data?.code;
}

/** A signed-out session (expired, revoked elsewhere) sends the user to sign-in. */
function onAuthLost(e: unknown) {
  if (codeOf(e) !== 'UNAUTHORIZED' || typeof window === 'undefined') return;
  const p = window.location.pathname;
  if (p === '/signin' || p === '/setup' || p === '/signup') return;
  window.location.assign('/signin');
}

function makeQueryClient() {
  return new QueryClient({
    queryCache: new QueryCache({ onError: onAuthLost }),
    mutationCache: new MutationCache({ onError: onAuthLost }),
    defaultOptions: {
      queries: {
        staleTime: 1_000,
        refetchOnWindowFocus: true,
        // Client errors (4xx) will not get better by asking again.
        retry: (n, e) => {
          const code = codeOf(e);
          if (code && code !== 'INTERNAL_SERVER_ERROR' && code !== 'TIMEOUT') return false;
          return n < 2;
        },
      },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        // Subscriptions (live VM changes) are Server-Sent Events; everything else is batched HTTP.
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({ url: '/api/trpc', transformer: superjson }),
          false: httpBatchLink({ url: '/api/trpc', transformer: superjson }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <ToastProvider>{children}</ToastProvider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}
