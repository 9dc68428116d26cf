// The host agents this panel can reach. Until one registers, actions that
// need a host fail with a clear "no host available" (never a fake success).
import type { HostAgent } from './types';

export class NoHostError extends Error {
  constructor() {
    super('No host available: no host agent is registered with this panel.');
  }
}

export class HostRegistry {
  private agents = new Map<string, HostAgent>();
  private keys = new Map<string, string>(); // remote agents' call-back keys, in memory only

  register(agent: HostAgent, key?: string): void {
    this.agents.set(agent.hostId, agent);
    if (key) this.keys.set(agent.hostId, key);
  }

  sameKey(hostId: string, key: string): boolean {
    return this.keys.get(hostId) === key;
  }

  unregister(hostId: string): void {
    this.agents.delete(hostId);
    this.keys.delete(hostId);
  }

  /** The agent for a VM's host, or any agent when the VM has none yet. */
  forHost(hostId: string | null): HostAgent {
    const agent = hostId ? this.agents.get(hostId) : this.agents.values().next().value;
    if (!agent) throw new NoHostError();
    return agent;
  }

  list(): HostAgent[] {
    return [...this.agents.values()];
  }
}
