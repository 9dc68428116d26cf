import { describe, expect, it } from 'vitest';
import { allowedEvents, isActive, resizeRefusal, transition, VM_STATES, type VmEvent, type VmState } from '../../server/domain/vmState';

// Every legal transition, written out; everything else must be refused.
const LEGAL: [VmState, VmEvent, VmState][] = [
  ['stopped', 'start', 'starting'], ['crashed', 'start', 'starting'],
  ['running', 'stop', 'stopping'], ['starting', 'stop', 'stopping'],
  ['running', 'forceStop', 'stopping'], ['starting', 'forceStop', 'stopping'], ['stopping', 'forceStop', 'stopping'],
  ['running', 'reboot', 'running'],
  ['stopped', 'delete', 'deleting'], ['crashed', 'delete', 'deleting'], ['error', 'delete', 'deleting'],
  ['stopped', 'forceDelete', 'deleting'], ['crashed', 'forceDelete', 'deleting'], ['error', 'forceDelete', 'deleting'],
  ['running', 'forceDelete', 'deleting'], ['starting', 'forceDelete', 'deleting'], ['stopping', 'forceDelete', 'deleting'],
  ['deleting', 'forceDelete', 'deleting'], // a failed delete is retried
  ['stopped', 'resize', 'stopped'], ['crashed', 'resize', 'crashed'],
  ['stopped', 'place', 'creating'],
  ['creating', 'created', 'stopped'], ['creating', 'createFailed', 'error'],
  ['starting', 'started', 'running'],
  ['starting', 'stopped', 'stopped'], ['running', 'stopped', 'stopped'], ['stopping', 'stopped', 'stopped'], ['crashed', 'stopped', 'stopped'],
  ['starting', 'crashed', 'crashed'], ['running', 'crashed', 'crashed'], ['stopping', 'crashed', 'crashed'],
  ['starting', 'startFailed', 'crashed'],
];
const EVENTS: VmEvent[] = ['start', 'stop', 'forceStop', 'reboot', 'delete', 'forceDelete', 'resize', 'place', 'created', 'createFailed', 'started', 'stopped', 'crashed', 'startFailed'];

describe('VM state machine', () => {
  for (const from of VM_STATES) {
    for (const event of EVENTS) {
      const legal = LEGAL.find(([f, e]) => f === from && e === event);
      it(`${from} --${event}--> ${legal ? legal[2] : 'refused'}`, () => {
        const t = transition(from, event);
        if (legal) expect(t).toEqual({ ok: true, to: legal[2] });
        else {
          expect(t.ok).toBe(false);
          if (!t.ok) expect(t.message.length).toBeGreaterThan(5);
        }
      });
    }
  }

  it('explains the common mistakes clearly', () => {
    expect(transition('running', 'start')).toEqual({ ok: false, message: 'The VM is already running.' });
    expect(transition('running', 'delete')).toEqual({ ok: false, message: 'The VM is running: stop it first, or delete with force.' });
    expect(transition('running', 'resize')).toEqual({ ok: false, message: 'Stop the VM before resizing it.' });
    expect(transition('deleting', 'delete')).toEqual({ ok: false, message: 'The VM is being deleted; delete it with force to try again.' });
  });

  it('lists allowed events per state', () => {
    expect(allowedEvents('stopped').sort()).toEqual(['delete', 'forceDelete', 'place', 'resize', 'start']);
    expect(allowedEvents('deleting')).toEqual(['forceDelete']);
    expect(allowedEvents('creating').sort()).toEqual(['createFailed', 'created']);
  });

  it('counts starting, running and stopping as active', () => {
    expect(VM_STATES.filter(isActive)).toEqual(['starting', 'running', 'stopping']);
  });

  it('refuses shrinking a disk', () => {
    expect(resizeRefusal({ vcpus: 1, memoryMiB: 128, diskGiB: 10 }, { vcpus: 2, memoryMiB: 64, diskGiB: 9 })).toMatch(/only grow/);
    expect(resizeRefusal({ vcpus: 1, memoryMiB: 128, diskGiB: 10 }, { vcpus: 2, memoryMiB: 64, diskGiB: 10 })).toBeNull();
  });
});
