// Ways out of the transitional states, with the real local host agent and
// real VM processes: a VM whose process ended without the panel hearing of
// it is stopped or deleted normally (not left "stopping"/"deleting"), a failed
// delete can be retried, and disk work cut short by a panel restart is
// settled when the panel starts again (creating → error, deleting → gone).
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startPanel, withUsers, type Client } from '../support/server';
import { addGuestImage, requireVmm, restartPanel, runningVm, stateOf, waitFor, waitState, type PanelWithAgent } from '../support/vms';

let panel: PanelWithAgent;
let c: Client;
let user: { id: string; email: string; password: string };
let imageId: string;

beforeAll(async () => {
  requireVmm();
  panel = await startPanel('sqlite', {}, { agent: true });
  const u = (await withUsers(panel, 1)).users[0]!;
  user = u;
  c = u.c;
  await panel.db.quota.update({ where: { userId: u.id }, data: { maxVms: 20, maxRunningVms: 20 } });
  imageId = (await addGuestImage(panel.db)).id;
});
afterAll(async () => { await panel?.close(); });

const auditOf = async (id: string) => (await c.audit.list.query({ vmId: id })).events.reverse().map((e) => `${e.action}:${e.outcome}`);

/** The VM's process ends and the panel never hears of it (its agent had stopped tracking it): a lost report. */
async function loseTrack(id: string) {
  const pid = Number(readFileSync(panel.agent!.paths(id).pid, 'utf8'));
  panel.agent!.release();
  process.kill(pid, 'SIGKILL');
  await waitFor(() => { try { return readFileSync(`/proc/${pid}/cmdline`).length === 0; } catch { return true; } });
}

describe('a VM whose process ended unnoticed', () => {
  it('is stopped by a graceful stop, a forced stop, a reboot, and deleted with force', async () => {
    const serial = (id: string) => panel.agent!.paths(id).serial;
    const id = await runningVm(panel, c, imageId, 'unnoticed', { serial });

    await loseTrack(id);
    expect(await stateOf(panel, id)).toBe('running');
    expect(await c.vm.stop.mutate({ id })).toMatchObject({ deadline: null });
    await waitState(panel, id, 'stopped', 2000);
    expect((await c.vm.get.query({ id })).stopDeadline).toBeNull();

    await c.vm.start.mutate({ id });
    await waitState(panel, id, 'running');
    await loseTrack(id);
    await c.vm.forceStop.mutate({ id });
    await waitState(panel, id, 'stopped', 2000);

    await c.vm.start.mutate({ id });
    await waitState(panel, id, 'running');
    await loseTrack(id);
    await c.vm.reboot.mutate({ id }).catch(() => {}); // the reboot cannot happen; the VM is seen stopped
    await waitState(panel, id, 'stopped', 2000);

    await c.vm.start.mutate({ id });
    await waitState(panel, id, 'running');
    await loseTrack(id);
    await c.vm.delete.mutate({ id, force: true });
    expect(await panel.db.vm.count({ where: { id } })).toBe(0);
    expect(existsSync(panel.agent!.paths(id).dir)).toBe(false);
  });

  it('a delete that failed half-way (left "deleting") can be retried with force', async () => {
    const vm = await c.vm.create.mutate({ name: 'half-deleted', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(panel, vm.id, 'stopped');
    await panel.db.vm.update({ where: { id: vm.id }, data: { state: 'deleting' } });
    expect((await c.vm.delete.mutate({ id: vm.id }).catch((e: Error) => e)) as Error).toMatchObject({ message: 'The VM is being deleted; delete it with force to try again.' });
    await c.vm.delete.mutate({ id: vm.id, force: true });
    expect(await panel.db.vm.count({ where: { id: vm.id } })).toBe(0);
    expect(existsSync(panel.agent!.paths(vm.id).dir)).toBe(false);
  });
});

describe("the local agent's reports", () => {
  it('a report the panel fails to apply once (e.g. the database is busy) is retried, not lost', async () => {
    const id = await runningVm(panel, c, imageId, 'report-retried', { serial: (x) => panel.agent!.paths(x).serial });
    // The next state write fails once.
    const db = panel.services.db;
    let failures = 0;
    const vmDelegate = new Proxy(db.vm, {
      get(target, key) {
        const v = Reflect.get(target, key) as unknown;
        if (key !== 'updateMany' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return async (args: unknown) => {
          if (failures++ === 0) throw new Error('database is locked');
          return (v as (a: unknown) => Promise<unknown>).call(target, args);
        };
      },
    });
    panel.services.db = new Proxy(db, { get: (target, key) => (key === 'vm' ? vmDelegate : Reflect.get(target, key)) });
    try {
      process.kill(Number(readFileSync(panel.agent!.paths(id).pid, 'utf8')), 'SIGKILL');
      await waitState(panel, id, 'crashed', 2000);
    } finally {
      panel.services.db = db;
    }
    expect(failures).toBeGreaterThan(1);
    expect((await c.vm.get.query({ id })).lastError).toBe('killed by SIGKILL');
    await c.vm.delete.mutate({ id });
  });
});

describe('a restart of the panel during disk work', () => {
  it('ends a create cut short as failed ("interrupted", nothing left on disk) and finishes a delete', async () => {
    // A template that never finishes copying: a FIFO nobody writes to.
    const tdir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-slowtpl-'));
    const fifo = path.join(tdir, 'template.raw');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    try {
      const slow = await addGuestImage(panel.db, 'slow', { diskTemplatePath: fifo });
      const creating = await c.vm.create.mutate({ name: 'mid-create', imageId: slow.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      expect(creating.state).toBe('creating');
      const deleting = await c.vm.create.mutate({ name: 'mid-delete', imageId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      await waitState(panel, deleting.id, 'stopped');
      await panel.db.vm.update({ where: { id: deleting.id }, data: { state: 'deleting' } }); // the panel went down before removing it
      const dirs = { creating: panel.agent!.paths(creating.id).dir, deleting: panel.agent!.paths(deleting.id).dir };
      expect(existsSync(dirs.creating) && existsSync(dirs.deleting)).toBe(true);
      writeFileSync(path.join(dirs.creating, 'disk.img.partial'), 'half');

      panel = await restartPanel(panel);
      c = client(panel.url);
      await c.auth.signIn.mutate({ email: user.email, password: user.password });

      const got = await c.vm.get.query({ id: creating.id });
      expect(got.state).toBe('error');
      expect(got.lastError).toMatch(/^Making the disk was interrupted/);
      expect(existsSync(dirs.creating)).toBe(false);
      expect(await auditOf(creating.id)).toEqual(['vm.create:ok', 'vm.create_failed:error']);
      expect(await panel.db.vm.count({ where: { id: deleting.id } })).toBe(0);
      expect(existsSync(dirs.deleting)).toBe(false);
      // The failed VM is deleted as any other (its quota given back).
      await c.vm.delete.mutate({ id: creating.id });
      expect(await panel.db.vm.count()).toBe(0);
    } finally {
      // Let the old copy end (it fails: its directory is gone).
      try { closeSync(openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK)); } catch { /* no reader left */ }
      rmSync(tdir, { recursive: true, force: true });
    }
  });
});
