'use client';
import { useDocumentTitle } from '../../../_lib/title';
import Link from 'next/link';
import { useParams, useRouter } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../../_lib/trpc';
import { StateBadge, RoleBadge } from '../../../_components/StateBadge';
import { VmActions } from '../../../_components/VmActions';
import { ErrorBox, Loading, Empty } from '../../../_components/States';
import { AuditTable } from '../../../_components/AuditTable';
import { RenameForm, ResizeForm } from '../../../_components/VmEditForms';
import { SharesPanel } from '../../../_components/SharesPanel';
import { formatDateTime, formatMiB, timeAgo } from '../../../_lib/format';
import { useFallbackPoll } from '../../../_lib/live';
import { VmMetricsPanel } from '../../../_components/VmMetricsPanel';
import { VmNotAvailable } from '../../../_components/console/VmNotAvailable';
import { GraceCountdown } from '../../../_components/GraceCountdown';

export default function VmPage() {
  const { id } = useParams<{ id: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  // Live through vm.onChange (see _lib/live.tsx); polling only while the feed is down.
  const poll = useFallbackPoll();
  const vm = useQuery(trpc.vm.get.queryOptions({ id }, { refetchInterval: (q) => (q.state.error ? false : poll) }));
  const canAudit = vm.data?.rights.includes('audit') ?? false;
  useDocumentTitle(vm.data?.name ?? (vm.isError ? 'VM not available' : 'VM'));
  const events = useQuery(trpc.audit.list.queryOptions({ vmId: id, limit: 20 }, { enabled: canAudit, refetchInterval: poll }));

  const crumbs = (name: string) => (
    <nav aria-label="Breadcrumb" className="crumbs"><Link href="/">Dashboard</Link> <span aria-hidden="true">/</span> <span>{name}</span></nav>
  );

  if (vm.isPending) return <>{crumbs('…')}<Loading rows={5} /></>;
  if (vm.isError) return <>{crumbs('Not available')}<VmNotAvailable error={vm.error} onRetry={() => void vm.refetch()} /></>;
  const v = vm.data;
  const canEdit = v.rights.includes('edit');
  const canShare = v.rights.includes('share');
  return (
    <>
      {crumbs(v.name)}
      <div className="page-header">
        <div className="page-title">
          <h1 className="vm-title">{v.name} <StateBadge state={v.state} /></h1>
          <p className="muted">
            {v.owner ? <>Owned by {v.owner.email}</> : null}
            {v.shareRole ? <> · shared with you as <RoleBadge role={v.shareRole} /></> : null}
          </p>
        </div>
        <div className="page-actions">
          {v.rights.includes('console') ? <Link href={`/vms/${v.id}/console`} className="btn btn-sm">Console</Link> : null}
          <VmActions vm={v} onDeleted={() => router.replace('/')} />
        </div>
      </div>

      {v.state === 'stopping' ? <GraceCountdown kind="stop" deadline={v.stopDeadline} since={new Date(v.updatedAt)} /> : null}
      {v.rebootDeadline ? <GraceCountdown kind="reboot" deadline={v.rebootDeadline} since={null} /> : null}

      {v.lastError ? (
        <div className="alert alert-error" role="status"><div><strong>Last error</strong><div>{v.lastError}</div></div></div>
      ) : null}

      {/* Usage exists only while a VM process does; a stopped VM's page starts with its specifications. */}
      {v.state === 'running' || v.state === 'starting' || v.state === 'stopping' ? (
        <VmMetricsPanel vmId={v.id} running={v.state === 'running'} vcpus={v.vcpus} />
      ) : null}

      <div className="grid-2">
        <section className="card" aria-labelledby="specs-h">
          <h2 id="specs-h">Specifications</h2>
          <dl className="specs">
            <div><dt>vCPUs</dt><dd>{v.vcpus}</dd></div>
            <div><dt>Memory</dt><dd>{formatMiB(v.memoryMiB)}</dd></div>
            <div><dt>Disk</dt><dd>{v.diskGiB} GiB</dd></div>
            <div><dt>Image</dt><dd>{v.image.name}</dd></div>
            <div><dt>Host</dt><dd>{v.host ?? <span className="muted">not placed</span>}</dd></div>
            <div><dt>Created</dt><dd title={formatDateTime(v.createdAt)}>{timeAgo(v.createdAt)}</dd></div>
            <div><dt>Updated</dt><dd title={formatDateTime(v.updatedAt)}>{timeAgo(v.updatedAt)}</dd></div>
            <div><dt>ID</dt><dd><code className="small">{v.id}</code></dd></div>
          </dl>
        </section>

        {canEdit ? (
          <section className="card stack" aria-labelledby="edit-h">
            <h2 id="edit-h">Settings</h2>
            <RenameForm vm={v} />
            <ResizeForm vm={v} />
          </section>
        ) : null}

        <SharesPanel vmId={v.id} canShare={canShare} />
      </div>

      {canAudit ? (
        <section className="section" aria-labelledby="events-h">
          <div className="section-head"><h2 id="events-h">Events</h2></div>
          {events.isPending ? <Loading rows={2} /> : events.isError ? <ErrorBox message={events.error.message} /> :
            events.data.events.length === 0 ? <Empty title="No events yet" /> : <AuditTable events={events.data.events} showTarget={false} />}
        </section>
      ) : null}
    </>
  );
}
