'use client';
import { useDocumentTitle } from '../_lib/title';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../_lib/trpc';
import { useMe } from '../_components/Me';
import { UsageBars, USAGE_LABEL } from '../_components/UsageBars';
import { VmTable } from '../_components/VmTable';
import { Empty, ErrorBox, Loading, PageHeader } from '../_components/States';
import { useFallbackPoll } from '../_lib/live';

function summary(data: { mine: { state: string }[]; shared: unknown[] } | undefined, name: string): string {
  if (!data) return `Welcome, ${name}`;
  const running = data.mine.filter((v) => v.state === 'running').length;
  const parts = [`${data.mine.length} VM${data.mine.length === 1 ? '' : 's'}`, `${running} running`];
  if (data.shared.length) parts.push(`${data.shared.length} shared with you`);
  return parts.join(' · ');
}

export default function Dashboard() {
  const me = useMe();
  useDocumentTitle('Dashboard');
  const trpc = useTRPC();
  // Live through vm.onChange (see _lib/live.tsx); polling only while the feed is down.
  const poll = useFallbackPoll();
  const quota = useQuery(trpc.account.quota.queryOptions(undefined, { refetchInterval: poll }));
  const vms = useQuery(trpc.vm.list.queryOptions(undefined, { refetchInterval: poll }));
  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={summary(vms.data, me.name)}
        actions={<Link href="/vms/new" className="btn btn-primary">+ New VM</Link>}
      />

      <section className="card" aria-labelledby="usage-h">
        <div className="card-head">
          <h2 id="usage-h">Your quota</h2>
          {quota.data?.over.length ? (
            <span className="chip chip-bad">Over limit: {quota.data.over.map((r) => USAGE_LABEL[r]).join(', ')}</span>
          ) : null}
        </div>
        {quota.isError ? <ErrorBox message={quota.error.message} onRetry={() => void quota.refetch()} /> : (
          <UsageBars limits={quota.data?.limits ?? null} usage={quota.data?.usage ?? null} />
        )}
      </section>

      <section className="section" aria-labelledby="mine-h">
        <div className="section-head">
          <h2 id="mine-h">My VMs</h2>
          {vms.data ? <span className="count">{vms.data.mine.length}</span> : null}
        </div>
        {vms.isPending ? <Loading rows={3} /> : vms.isError ? (
          <ErrorBox message={vms.error.message} onRetry={() => void vms.refetch()} />
        ) : vms.data.mine.length === 0 ? (
          <Empty title="No virtual machines yet">
            <p>Create your first VM: pick an image and a size within your quota.</p>
            <Link href="/vms/new" className="btn btn-primary">Create a VM</Link>
          </Empty>
        ) : (
          <VmTable vms={vms.data.mine} label="My VMs" />
        )}
      </section>

      <section className="section" aria-labelledby="shared-h">
        <div className="section-head">
          <h2 id="shared-h">Shared with me</h2>
          {vms.data ? <span className="count">{vms.data.shared.length}</span> : null}
        </div>
        {vms.isPending ? <Loading rows={1} /> : vms.isError ? null : vms.data.shared.length === 0 ? (
          <Empty title="Nothing shared with you">
            <p>When someone shares a VM with you, it appears here with your role.</p>
          </Empty>
        ) : (
          <VmTable vms={vms.data.shared} shared label="Shared with me" />
        )}
      </section>
    </>
  );
}
