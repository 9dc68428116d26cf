// The panel's side of a host agent on another machine: the same HostAgent
// interface, carried over HTTP with the key the agent gave at registration.
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AgentRouter } from './api';
import { AgentError, type ConsoleKind, type HostAgent, type HostCapacity, type StopResult, type VmMetrics, type VmSpec, type VmStatus } from './types';
import type { Duplex } from 'node:stream';
import { openAgentConsole } from '../console/remote';

export class RemoteAgent implements HostAgent {
  private readonly client;

  constructor(readonly hostId: string, readonly url: string, private readonly key: string) {
    this.client = createTRPCClient<AgentRouter>({
      links: [httpLink({ url: `${url.replace(/\/$/, '')}/agent`, transformer: superjson, headers: { authorization: `Bearer ${key}` } })],
    });
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof TRPCClientError && e.data?.code === 'PRECONDITION_FAILED') throw new AgentError(e.message);
      // The agent's address and its errors are for the log; users (messages, audit detail) get the gist.
      console.error(`host agent ${this.hostId} at ${this.url} failed: ${(e as Error).message}`);
      throw new AgentError(e instanceof TRPCClientError && e.data ? 'The VM’s host reported an error.' : 'The VM’s host is unreachable.');
    }
  }

  capacity(): Promise<HostCapacity> { return this.call(() => this.client.capacity.query()); }
  running(): Promise<string[]> { return this.call(() => this.client.running.query()); }
  createDisk(vm: VmSpec): Promise<void> { return this.call(() => this.client.createDisk.mutate(vm)); }
  deleteDisk(vmId: string): Promise<void> { return this.call(() => this.client.deleteDisk.mutate({ vmId })); }
  start(vm: VmSpec): Promise<void> { return this.call(() => this.client.start.mutate(vm)); }
  stop(vmId: string, opts: { force: boolean }): Promise<StopResult | void> { return this.call(() => this.client.stop.mutate({ vmId, force: opts.force })); }
  reboot(vmId: string, opts: { force?: boolean } = {}): Promise<void> { return this.call(() => this.client.reboot.mutate({ vmId, force: opts.force ?? false })); }
  metrics(vmId: string): Promise<VmMetrics | null> { return this.call(() => this.client.metrics.query({ vmId })); }
  status(vmId: string): Promise<VmStatus> { return this.call(() => this.client.status.query({ vmId })); }
  resizeDisk(vmId: string, diskGiB: number): Promise<void> { return this.call(() => this.client.resizeDisk.mutate({ vmId, diskGiB })); }
  /** Over the agent's key-protected WebSocket endpoint (server/console/remote.ts). */
  openConsole(vmId: string, kind: ConsoleKind): Promise<Duplex> { return openAgentConsole(this.url, this.key, vmId, kind); }
}
