'use client';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../_lib/trpc';
import { useMe } from '../_components/Me';
import { UsageBars, USAGE_LABEL } from '../_components/UsageBars';
import { VmTable } from '../_components/VmTable';
import { Empty, ErrorBox, Loading, PageHeader } from '../_components/States';

const POLL = 2_000;

export default function Dashboard() {
  const me = useMe();
  const trpc = useTRPC();
  const quota = useQuery(trpc.account.quota.queryOptions(undefined, { refetchInterval: POLL }));
  const vms = useQuery(trpc.vm.list.queryOptions(undefined, { refetchInterval: POLL }));
  const full = quota.data ? quota.data.remaining.vms === 0 : false;
  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={`Signed in as ${me.name}`}
        actions={<Link href="/vms/new" className="btn btn-primary" aria-disabled={full || undefined}>+ New VM</Link>}
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
