'use client';
import { useDocumentTitle } from '../../_lib/title';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { useMe } from '../../_components/Me';
import { Empty, ErrorBox, Loading, PageHeader } from '../../_components/States';
import { StateBadge } from '../../_components/StateBadge';
import { UsersSection } from '../../_components/admin/UsersSection';
import { SettingsSection } from '../../_components/admin/SettingsSection';
import { HostsSection } from '../../_components/admin/HostsSection';
import { formatMiB } from '../../_lib/format';
import { useFallbackPoll } from '../../_lib/live';

function AllVms() {
  const trpc = useTRPC();
  const vms = useQuery(trpc.admin.vms.queryOptions(undefined, { refetchInterval: useFallbackPoll() }));
  return (
    <section className="section" aria-labelledby="allvms-h" id="vms">
      <div className="section-head"><h2 id="allvms-h">All VMs</h2>{vms.data ? <span className="count">{vms.data.length}</span> : null}</div>
      {vms.isPending ? <Loading rows={3} /> : vms.isError ? <ErrorBox message={vms.error.message} /> : vms.data.length === 0 ? <Empty title="No VMs on this panel yet" /> : (
        <div className="table-wrap">
          <table className="table table-stack" aria-label="All VMs">
            <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">State</th><th scope="col">Size</th><th scope="col">Image</th><th scope="col">Host</th></tr></thead>
            <tbody>
              {vms.data.map((v) => (
                <tr key={v.id}>
                  <td data-label="Name"><Link href={`/vms/${v.id}`} className="vm-link">{v.name}</Link>{v.lastError ? <div className="cell-error">{v.lastError}</div> : null}</td>
                  <td data-label="Owner">{v.owner.email}</td>
                  <td data-label="State"><StateBadge state={v.state} /></td>
                  <td data-label="Size" className="nowrap">{v.vcpus} vCPU · {formatMiB(v.memoryMiB)} · {v.diskGiB} GiB</td>
                  <td data-label="Image">{v.image.name}</td>
                  <td data-label="Host">{v.host ?? <span className="muted">unplaced</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function AdminPage() {
  const me = useMe();
  useDocumentTitle('Administration');
  if (me.role !== 'admin') {
    return (
      <>
        <PageHeader title="Administration" />
        <Empty title="Administrators only"><p>Your account cannot manage the panel.</p></Empty>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Administration" subtitle="Users, quotas, panel settings, every VM and host." />
      <nav className="subnav" aria-label="Administration sections">
        <a href="#users">Users</a><a href="#settings">Settings</a><a href="#vms">All VMs</a><a href="#hosts">Hosts</a><a href="/admin/images">Images</a>
      </nav>
      <UsersSection />
      <SettingsSection />
      <AllVms />
      <HostsSection />
    </>
  );
}
