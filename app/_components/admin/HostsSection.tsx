'use client';
// The admins' host view: per host, state, VMs, allocation against the machine
// and the data dir's disk space. VM changes refresh it live; the disk numbers
// are re-read every 10 s.
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../_lib/trpc';
import { formatBytes, formatMiB, timeAgo, formatDateTime } from '../../_lib/format';
import { Empty, ErrorBox, Loading } from '../States';

function Meter({ label, used, total, text, overOk }: { label: string; used: number; total: number; text: string; overOk?: boolean }) {
  const pct = total > 0 ? Math.round((used / total) * 100) : used > 0 ? 100 : 0;
  const tone = used > total ? (overOk ? 'warn' : 'bad') : pct >= 90 ? 'warn' : 'ok';
  return (
    <div className="usage">
      <div className="usage-head">
        <span className="usage-label">{label}</span>
        <span className="usage-num">{text}</span>
      </div>
      <div className={`meter meter-${tone}`} role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={total}
        aria-valuenow={Math.min(used, total)} aria-valuetext={text}>
        <span style={{ width: `${Math.min(100, pct)}%` }} />
      </div>
    </div>
  );
}

export function HostsSection() {
  const trpc = useTRPC();
  const hosts = useQuery(trpc.admin.hosts.queryOptions(undefined, { refetchInterval: 10_000 }));
  return (
    <section className="section" aria-labelledby="hosts-h" id="hosts">
      <div className="section-head"><h2 id="hosts-h">Hosts</h2>{hosts.data ? <span className="count">{hosts.data.length}</span> : null}</div>
      {hosts.isPending ? <Loading rows={2} /> : hosts.isError ? <ErrorBox message={hosts.error.message} onRetry={() => void hosts.refetch()} /> : hosts.data.length === 0 ? (
        <Empty title="No hosts registered">
          <p>VMs can be created, but starting them needs a host agent. Until one registers, start, stop and reboot report &ldquo;No host available&rdquo;.</p>
        </Empty>
      ) : (
        <div className="host-grid">
          {hosts.data.map((h) => {
            const used = h.disk.totalBytes !== null ? h.disk.totalBytes - h.disk.freeBytes : null;
            return (
              <article key={h.id} className="card host-card" aria-labelledby={`host-${h.id}`}>
                <div className="card-head">
                  <div>
                    <h3 id={`host-${h.id}`}>{h.name}</h3>
                    <div className="muted small">{h.url === 'local' ? 'in the panel process' : h.url || 'not registered yet'}</div>
                  </div>
                  <span className={`badge badge-${h.connected ? 'ok' : 'bad'}`}><span className="dot" aria-hidden="true" />{h.connected ? 'connected' : 'offline'}</span>
                </div>
                <dl className="specs">
                  <div><dt>VMs</dt><dd data-testid="host-vms">{h.vms.running} running / {h.vms.total}</dd></div>
                  <div><dt>Last seen</dt><dd title={h.lastSeenAt ? formatDateTime(h.lastSeenAt) : undefined}>{h.connected && h.url === 'local' ? 'now' : timeAgo(h.lastSeenAt)}</dd></div>
                  <div><dt>Running use</dt><dd>{h.runningAllocated.vcpus} vCPU · {formatMiB(h.runningAllocated.memoryMiB)}</dd></div>
                  <div><dt>VM disks</dt><dd>{h.allocated.diskGiB} GiB allocated</dd></div>
                </dl>
                <div className="host-meters">
                  <Meter label="vCPUs allocated" used={h.allocated.vcpus} total={h.cpus} overOk
                    text={`${h.allocated.vcpus} of ${h.cpus} physical`} />
                  <Meter label="Memory allocated" used={h.allocated.memoryMiB} total={h.memoryMiB}
                    text={`${formatMiB(h.allocated.memoryMiB)} of ${formatMiB(h.memoryMiB)}`} />
                  {used !== null && h.disk.totalBytes !== null ? (
                    <Meter label="Data disk used" used={used} total={h.disk.totalBytes}
                      text={`${formatBytes(used)} used, ${formatBytes(h.disk.freeBytes)} free`} />
                  ) : (
                    <div className="usage"><div className="usage-head"><span className="usage-label">Data disk</span><span className="usage-num">{formatBytes(h.disk.freeBytes)} free</span></div></div>
                  )}
                </div>
                {h.capacityError ? <div className="alert alert-warn" role="status"><div>Could not ask the host: {h.capacityError}</div></div> : null}
              </article>
            );
          })}
        </div>
      )}
    </section>
  );
}
