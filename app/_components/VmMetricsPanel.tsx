'use client';
// Live usage of a running VM: samples vm.metrics every few seconds while the
// page is open and keeps the last five minutes in memory.
import { useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { VmMetrics } from '@/server/agent/types';
import { useTRPC } from '../_lib/trpc';
import { addSample, niceMax, seriesOf, WINDOW_MS, type Point } from '../_lib/metrics';
import { formatBytes, formatDuration, formatRate } from '../_lib/format';
import { LineChart } from './LineChart';
import { Empty } from './States';

const SAMPLE_MS = 3_000;

const last = (p: Point[]) => p[p.length - 1]?.v ?? 0;
const peak = (...ps: Point[][]) => Math.max(0, ...ps.flat().map((p) => p.v));

export function VmMetricsPanel({ vmId, running, vcpus }: { vmId: string; running: boolean; vcpus: number }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.vm.metrics.queryOptions({ id: vmId }, {
    enabled: running,
    refetchInterval: running ? SAMPLE_MS : false,
    refetchIntervalInBackground: false,
    staleTime: 0,
    gcTime: 0,
    retry: false,
  }));
  const [samples, setSamples] = useState<VmMetrics[]>([]);
  const sample = running ? q.data : null;
  useEffect(() => {
    if (!running) setSamples([]);
    else if (sample) setSamples((s) => addSample(s, sample));
  }, [running, sample]);

  return (
    <section className="card stack" aria-labelledby="metrics-h">
      <div className="card-head">
        <h2 id="metrics-h">Usage</h2>
        <span className="muted small">{running ? `up to the last 5 minutes, sampled every ${SAMPLE_MS / 1000} s` : ''}</span>
      </div>
      {!running ? (
        <Empty title="No usage while the VM is not running"><p>CPU, memory, disk and network charts appear once it runs.</p></Empty>
      ) : q.isError ? (
        <div className="alert alert-warn" role="status"><div>Usage is not available right now: {q.error.message}</div></div>
      ) : samples.length === 0 ? (
        <p className="muted" role="status">Collecting the first samples…</p>
      ) : (
        <Charts samples={samples} vcpus={vcpus} />
      )}
    </section>
  );
}

function Charts({ samples, vcpus }: { samples: VmMetrics[]; vcpus: number }) {
  const s = seriesOf(samples, vcpus);
  const latest = samples[samples.length - 1]!;
  const now = latest.at;
  // The x axis grows with the data from 30 s up to five minutes, so a fresh VM's first samples are not a sliver.
  const windowMs = Math.min(WINDOW_MS, Math.max(30_000, now - samples[0]!.at));
  const cpu = last(s.cpuPct);
  const rss = latest.rssBytes;
  const memMax = niceMax(Math.max(latest.memoryBytes, peak(s.rss)), true);
  const diskMax = niceMax(Math.max(1024, peak(s.diskRead, s.diskWrite)), true);
  const netMax = niceMax(Math.max(1024, peak(s.netRx, s.netTx)), true);
  const pending = s.cpuPct.length === 0 ? 'measuring…' : null;
  return (
    <>
      <div className="metrics-meta" aria-label="Current usage">
        <span>Uptime <strong data-testid="uptime">{formatDuration(latest.uptimeSeconds)}</strong></span>
        <span>CPU time <strong>{latest.cpuSeconds.toFixed(1)} s</strong></span>
        <span>Samples <strong data-testid="samples">{samples.length}</strong></span>
      </div>
      <div className="metrics-grid">
        <LineChart
          title="CPU" now={now} windowMs={windowMs} max={100} maxLabel="100 %"
          value={pending ?? `${cpu.toFixed(1)} %`}
          summary={pending ?? `${cpu.toFixed(1)} % of ${vcpus} vCPU${vcpus === 1 ? '' : 's'} now, peak ${peak(s.cpuPct).toFixed(1)} % in the last 5 minutes`}
          series={[{ name: 'CPU', points: s.cpuPct, tone: 'a' }]}
        />
        <LineChart
          title="Memory" now={now} windowMs={windowMs} max={memMax} maxLabel={formatBytes(memMax)}
          value={`${formatBytes(rss)} / ${formatBytes(latest.memoryBytes)}`}
          summary={`${formatBytes(rss)} resident of ${formatBytes(latest.memoryBytes)} configured`}
          series={[{ name: 'Resident', points: s.rss, tone: 'a' }]}
          limit={{ name: 'Configured', v: latest.memoryBytes }}
        />
        <LineChart
          title="Disk" now={now} windowMs={windowMs} max={diskMax} maxLabel={formatRate(diskMax)}
          value={pending ?? `${formatRate(last(s.diskRead))} read · ${formatRate(last(s.diskWrite))} write`}
          summary={pending ?? `read ${formatRate(last(s.diskRead))}, write ${formatRate(last(s.diskWrite))}; ${formatBytes(latest.diskReadBytes)} read and ${formatBytes(latest.diskWriteBytes)} written in total`}
          series={[{ name: 'Read', points: s.diskRead, tone: 'a' }, { name: 'Write', points: s.diskWrite, tone: 'b' }]}
        />
        <LineChart
          title="Network" now={now} windowMs={windowMs} max={netMax} maxLabel={formatRate(netMax)}
          value={pending ?? `${formatRate(last(s.netRx))} in · ${formatRate(last(s.netTx))} out`}
          summary={pending ?? `receiving ${formatRate(last(s.netRx))}, sending ${formatRate(last(s.netTx))}; ${formatBytes(latest.netRxBytes)} received and ${formatBytes(latest.netTxBytes)} sent in total`}
          series={[{ name: 'Received', points: s.netRx, tone: 'a' }, { name: 'Sent', points: s.netTx, tone: 'b' }]}
        />
      </div>
    </>
  );
}
