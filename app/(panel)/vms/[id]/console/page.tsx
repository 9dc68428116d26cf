'use client';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useCallback, useRef, useState, type KeyboardEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../../../_lib/trpc';
import { useDocumentTitle } from '../../../../_lib/title';
import { useFallbackPoll } from '../../../../_lib/live';
import { StateBadge, RoleBadge } from '../../../../_components/StateBadge';
import { VmActions } from '../../../../_components/VmActions';
import { Empty, Loading } from '../../../../_components/States';
import { VmNotAvailable } from '../../../../_components/console/VmNotAvailable';
import { ScreenConsole } from '../../../../_components/console/ScreenConsole';
import { SerialConsole } from '../../../../_components/console/SerialConsole';
import '../../../../_components/console/console.css';

const TABS = [
  { id: 'screen', label: 'Screen' },
  { id: 'serial', label: 'Serial' },
] as const;
type Tab = (typeof TABS)[number]['id'];

export default function ConsolePage() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  // State changes arrive through the live feed (the console reconnects when the
  // VM runs again); the poll covers a feed that is down, slowly otherwise.
  const poll = useFallbackPoll(3_000) || 15_000;
  const vm = useQuery(trpc.vm.get.queryOptions({ id }, { refetchInterval: (q) => (q.state.error ? false : poll) }));
  useDocumentTitle(vm.data ? `Console · ${vm.data.name}` : vm.isError ? 'VM not available' : 'Console');
  const [tab, setTab] = useState<Tab>('screen');
  const [mounted, setMounted] = useState<Record<Tab, boolean>>({ screen: true, serial: false });
  const tabRefs = useRef<Record<Tab, HTMLButtonElement | null>>({ screen: null, serial: null });
  const refetch = vm.refetch;
  const onStale = useCallback(() => { void refetch(); }, [refetch]);

  const select = (t: Tab, focus = false) => {
    setTab(t);
    setMounted((m) => (m[t] ? m : { ...m, [t]: true }));
    if (focus) tabRefs.current[t]?.focus();
  };
  const onRelease = useCallback(() => tabRefs.current[tab]?.focus(), [tab]);
  const onTabKey = (e: KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.id === tab);
    const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? TABS.length - 1 : null;
    if (next === null) return;
    e.preventDefault();
    select(TABS[(next + TABS.length) % TABS.length]!.id, true);
  };

  const crumbs = (name: string, vmId?: string) => (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/">Dashboard</Link> <span aria-hidden="true">/</span>{' '}
      {vmId ? <><Link href={`/vms/${vmId}`}>{name}</Link> <span aria-hidden="true">/</span> <span>Console</span></> : <span>{name}</span>}
    </nav>
  );

  if (vm.isPending) return <>{crumbs('…')}<Loading rows={5} /></>;
  // Once shown, the console stays on screen after access ends (it says why).
  if (!vm.data) return <>{crumbs('Not available')}<VmNotAvailable error={vm.error} onRetry={() => void vm.refetch()} /></>;
  const v = vm.data;
  const lost = vm.isError && vm.error.data?.code === 'NOT_FOUND';
  const canConsole = v.rights.includes('console') && !lost;
  return (
    <>
      {crumbs(v.name, v.id)}
      <div className="page-header">
        <div className="page-title">
          <h1 className="vm-title">{v.name} <StateBadge state={v.state} /></h1>
          <p className="muted">
            Console
            {v.shareRole ? <> · shared with you as <RoleBadge role={v.shareRole} /></> : null}
          </p>
        </div>
        <div className="page-actions">
          {!lost ? <VmActions vm={{ ...v, rights: v.rights.filter((r) => r !== 'delete') }} /> : null}
          <Link href={`/vms/${v.id}`} className="btn btn-sm">VM details</Link>
        </div>
      </div>

      {lost ? (
        <div className="alert alert-error" role="alert">
          <div><strong>This VM is no longer available to you</strong><div>It was deleted, or it is no longer shared with you.</div></div>
          <Link href="/" className="btn btn-sm">Dashboard</Link>
        </div>
      ) : null}

      {!v.rights.includes('console') ? (
        <Empty title="No console access">
          <p>{v.shareRole ? <>It is shared with you as <RoleBadge role={v.shareRole} />, which does not include the console.</> : <>Your access to this VM does not include the console.</>} Ask its owner for the console or operator role.</p>
          <Link href={`/vms/${v.id}`} className="btn btn-primary">Back to the VM</Link>
        </Empty>
      ) : (
        <section className="console-panel" aria-label="Console">
          <div className="console-tabs" role="tablist" aria-label="Console type" onKeyDown={onTabKey}>
            {TABS.map((t) => (
              <button
                key={t.id}
                ref={(el) => { tabRefs.current[t.id] = el; }}
                type="button"
                role="tab"
                id={`console-tab-${t.id}`}
                aria-selected={tab === t.id}
                aria-controls={`console-panel-${t.id}`}
                tabIndex={tab === t.id ? 0 : -1}
                className="console-tab"
                onClick={() => select(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
          {TABS.map((t) => (
            <div key={t.id} role="tabpanel" id={`console-panel-${t.id}`} aria-labelledby={`console-tab-${t.id}`} hidden={tab !== t.id} className="console-tabpanel">
              {!mounted[t.id] ? null : t.id === 'screen' ? (
                <ScreenConsole vmId={v.id} vmName={v.name} vmState={v.state} enabled={canConsole} onStale={onStale} onRelease={onRelease} />
              ) : (
                <SerialConsole vmId={v.id} vmName={v.name} vmState={v.state} enabled={canConsole} visible={tab === 'serial'} onStale={onStale} onRelease={onRelease} />
              )}
            </div>
          ))}
        </section>
      )}
    </>
  );
}
