// In-process notifications: "this VM changed" (feeds the live views) and
// "this user's access ended" (closes their open consoles). Each VM change
// carries its audience, the users who may see the VM, computed when it is
// emitted, so a listener never has to look up a VM that may be gone.
import { EventEmitter, on } from 'node:events';
import type { Db, Tx } from './db/client';

export interface VmChange {
  vmId: string;
  audience: string[]; // owner and share recipients (admins see everything)
  state?: string; // the state the VM just entered, when the change was a state change
}

export interface AccessEnded {
  userId: string;
  vmId?: string; // absent: all of the user's access (disabled, signed out everywhere)
}

/** Some of this user's sessions were deleted (sign-out, password change, disabled); consoles re-check theirs. */
export interface SessionsEnded {
  userId: string;
}

export class PanelEvents {
  private readonly ee = new EventEmitter();

  constructor() {
    this.ee.setMaxListeners(0);
  }

  async audienceOf(db: Db | Tx, vmId: string): Promise<string[]> {
    const vm = await db.vm.findUnique({ where: { id: vmId }, select: { ownerId: true, shares: { select: { userId: true } } } });
    return vm ? [vm.ownerId, ...vm.shares.map((s) => s.userId)] : [];
  }

  /** Announces a change; `alsoTell` reaches users who just lost access (they must refresh too). */
  async vmChanged(db: Db | Tx, vmId: string, alsoTell: string[] = [], state?: string): Promise<void> {
    this.emitVm({ vmId, audience: [...(await this.audienceOf(db, vmId)), ...alsoTell], ...(state ? { state } : {}) });
  }

  emitVm(change: VmChange): void {
    this.ee.emit('vm', change);
  }

  accessEnded(e: AccessEnded): void {
    this.ee.emit('access', e);
  }

  async *vmChanges(signal: AbortSignal): AsyncGenerator<VmChange> {
    for await (const [change] of on(this.ee, 'vm', { signal })) yield change as VmChange;
  }

  onAccessEnded(listener: (e: AccessEnded) => void): () => void {
    this.ee.on('access', listener);
    return () => this.ee.off('access', listener);
  }

  sessionsEnded(e: SessionsEnded): void {
    this.ee.emit('sessions', e);
  }

  onSessionsEnded(listener: (e: SessionsEnded) => void): () => void {
    this.ee.on('sessions', listener);
    return () => this.ee.off('sessions', listener);
  }

  /** A plain listener for VM changes (the console bridge), beside the async iterator above. */
  onVmChanged(listener: (change: VmChange) => void): () => void {
    this.ee.on('vm', listener);
    return () => this.ee.off('vm', listener);
  }
}
