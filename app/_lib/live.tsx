'use client';
// Live VM state: one vm.onChange subscription (Server-Sent Events) per signed-in
// tab. Each event names a VM; the queries that show it are invalidated and
// refetch. Polling is only the fallback while the subscription is down.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useTRPC } from './trpc';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

const LiveContext = createContext<LiveStatus>('connecting');

/** Fallback refetch period while the live feed is down (slow on purpose). */
export const FALLBACK_POLL_MS = 10_000;

/** What to pass as `refetchInterval`: nothing while live, a slow poll otherwise. */
export function useFallbackPoll(ms = FALLBACK_POLL_MS): number | false {
  return useContext(LiveContext) === 'live' ? false : ms;
}

export function useLiveStatus(): LiveStatus {
  return useContext(LiveContext);
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [everLive, setEverLive] = useState(false);
  const pending = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const dropped = useRef(false);

  // Everything that shows VM state, usage or VM events, across pages.
  const refreshShared = useCallback(() => {
    void qc.invalidateQueries({ queryKey: trpc.vm.list.queryKey() });
    void qc.invalidateQueries({ queryKey: trpc.account.quota.queryKey() });
    void qc.invalidateQueries({ queryKey: trpc.admin.pathKey() });
    void qc.invalidateQueries({ queryKey: trpc.audit.pathKey() });
  }, [qc, trpc]);

  // Events come in bursts (state + audit + quota): coalesce them for 100 ms.
  const flush = useCallback(() => {
    timer.current = null;
    const ids = [...pending.current];
    pending.current.clear();
    refreshShared();
    for (const id of ids) {
      void qc.invalidateQueries({ queryKey: trpc.vm.get.queryKey({ id }) });
      void qc.invalidateQueries({ queryKey: trpc.share.list.queryKey({ id }) });
    }
  }, [qc, trpc, refreshShared]);

  const sub = useSubscription(trpc.vm.onChange.subscriptionOptions(undefined, {
    onStarted: () => {
      setEverLive(true);
      // Back after a drop: changes may have been missed meanwhile.
      if (dropped.current) {
        dropped.current = false;
        refreshShared();
        void qc.invalidateQueries({ queryKey: trpc.vm.pathKey() });
        void qc.invalidateQueries({ queryKey: trpc.share.pathKey() });
      }
    },
    onData: (change) => {
      // The new state shows at once; the refetch below brings the rest (deadlines, errors, usage).
      const state = 'state' in change && typeof change.state === 'string' && change.state !== 'deleted' ? change.state : null;
      if (state) {
        qc.setQueryData(trpc.vm.get.queryKey({ id: change.vmId }), (old) => (old ? { ...old, state } : old));
        qc.setQueryData(trpc.vm.list.queryKey(), (old) => old && {
          mine: old.mine.map((v) => (v.id === change.vmId ? { ...v, state } : v)),
          shared: old.shared.map((v) => (v.id === change.vmId ? { ...v, state } : v)),
        });
      }
      pending.current.add(change.vmId);
      timer.current ??= setTimeout(flush, 100);
    },
  }));

  const live = sub.status === 'pending';
  useEffect(() => {
    if (!live && everLive) dropped.current = true;
  }, [live, everLive]);
  useEffect(() => () => { if (timer.current) clearTimeout(timer.current); }, []);
  // A failed subscription (server restart mid-handshake, …) is retried; polling covers the gap.
  const { status: subStatus, reset } = sub;
  useEffect(() => {
    if (subStatus !== 'error') return;
    const t = setTimeout(reset, 5_000);
    return () => clearTimeout(t);
  }, [subStatus, reset]);

  const status: LiveStatus = live ? 'live' : everLive ? 'reconnecting' : 'connecting';
  const value = useMemo(() => status, [status]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

/** The small "Live" / "Reconnecting…" chip of the top bar. */
export function LiveIndicator() {
  const status = useLiveStatus();
  const text = status === 'live' ? 'Live' : status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
  const title = status === 'live'
    ? 'Changes to your VMs appear as they happen.'
    : 'The live feed is down; the page refreshes every few seconds until it is back.';
  return (
    <span className={`live-chip live-${status}`} role="status" aria-live="polite" title={title} data-live={status}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
