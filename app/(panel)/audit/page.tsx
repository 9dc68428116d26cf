'use client';
import { useDocumentTitle } from '../../_lib/title';
import { useDeferredValue, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { useMe } from '../../_components/Me';
import { Field, SelectField } from '../../_components/Field';
import { AuditTable } from '../../_components/AuditTable';
import { Empty, ErrorBox, Loading, PageHeader } from '../../_components/States';

const OUTCOMES = ['ok', 'denied', 'error'] as const;
type Outcome = (typeof OUTCOMES)[number];

export default function AuditPage() {
  const me = useMe();
  useDocumentTitle('Audit log');
  const trpc = useTRPC();
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState<'' | Outcome>('');
  const deferredAction = useDeferredValue(action.trim().toLowerCase());
  const actionError = /^[a-z.]*$/.test(deferredAction) ? null : 'Only lowercase letters and dots, e.g. "vm." or "auth.signin".';
  const input = {
    limit: 50,
    ...(deferredAction && !actionError ? { action: deferredAction } : {}),
    ...(outcome ? { outcome } : {}),
  };
  // Pages by cursor (audit.list's input is strict, so tRPC's infinite query, which adds a
  // `direction` field, is not used). Changing a filter starts again from the newest page.
  const key = JSON.stringify(input);
  const [pages, setPages] = useState<{ key: string; cursors: string[] }>({ key, cursors: [] });
  const cursors = pages.key === key ? pages.cursors : [];
  const results = useQueries({
    queries: [undefined, ...cursors].map((cursor, i) =>
      trpc.audit.list.queryOptions({ ...input, ...(cursor ? { cursor } : {}) }, { refetchInterval: i === 0 ? 10_000 : false, placeholderData: (prev) => prev })),
  });
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const rows = results.flatMap((r) => r.data?.events ?? []);
  const nextCursor = last.data?.nextCursor ?? null;
  const events = {
    isPending: first.isPending, isError: first.isError, error: first.error, refetch: first.refetch,
    hasNextPage: !!nextCursor, isFetchingNextPage: last.isFetching && results.length > 1 && !last.data,
    fetchNextPage: () => { if (nextCursor) setPages({ key, cursors: [...cursors, nextCursor] }); },
  };
  return (
    <>
      <PageHeader title="Audit log" subtitle={me.role === 'admin' ? 'Every event on the panel.' : 'Your actions and events about your VMs.'} />
      <form className="filters card" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <Field label="Action starts with" placeholder="vm. / auth. / share." value={action} onChange={(e) => setAction(e.target.value)}
          error={actionError} spellCheck={false} autoComplete="off" />
        <SelectField label="Outcome" value={outcome} onChange={(e) => setOutcome(e.target.value as '' | Outcome)}>
          <option value="">Any</option>
          {OUTCOMES.map((o) => <option key={o} value={o}>{o}</option>)}
        </SelectField>
        {action || outcome ? <div className="filters-clear"><button type="button" className="btn btn-ghost btn-sm" onClick={() => { setAction(''); setOutcome(''); }}>Clear filters</button></div> : null}
      </form>
      {events.isPending ? <Loading rows={6} /> : events.isError ? <ErrorBox message={events.error?.message ?? "Could not load events."} onRetry={() => void events.refetch()} /> :
        rows.length === 0 ? <Empty title="No matching events" /> : (
          <>
            <AuditTable events={rows} />
            {events.hasNextPage ? (
              <div className="center-row">
                <button type="button" className="btn" onClick={events.fetchNextPage} disabled={events.isFetchingNextPage}>
                  {events.isFetchingNextPage ? 'Loading…' : 'Load older events'}
                </button>
              </div>
            ) : null}
          </>
        )}
    </>
  );
}
