// Faults around the VM lifecycle, with the real local host agent and real VM
// processes: the panel restarting under running VMs, a VM dying (or powering
// off) while the panel is down, a full data disk, an unreadable kernel.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, errorOf, startPanel, withUsers, type Client } from '../support/server';
import { GUEST, restartPanel, serialUntil, stateOf, waitState, type PanelWithAgent as Panel } from '../support/vms';
import { ROOT_DIR } from '../../server/config';

describe('a restart of the panel', () => {
  let panel: Panel;
  afterAll(async () => { await panel?.close(); });

  it('keeps running VMs running and reachable; VMs that ended meanwhile are marked with why', async () => {
    panel = await startPanel('sqlite', {}, { agent: true });
    const { users } = await withUsers(panel, 1);
    const user = users[0]!;
    await panel.db.quota.update({ where: { userId: user.id }, data: { maxVms: 10, maxRunningVms: 10 } });
    const image = await panel.db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: GUEST } });
    const ids: string[] = [];
    for (const name of ['one', 'two', 'killed', 'poweroff']) {
      const vm = await user.c.vm.create.mutate({ name, imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      await waitState(panel, vm.id, 'stopped');
      await user.c.vm.start.mutate({ id: vm.id });
      await serialUntil(panel.agent!.paths(vm.id).serial, /guest ready/);
      ids.push(vm.id);
    }
    const [one, two, killed, poweroff] = ids as [string, string, string, string];
    const paths = (id: string) => panel.agent!.paths(id);
    const pidOf = (id: string) => Number(readFileSync(paths(id).pid, 'utf8'));
    const pids = ids.map(pidOf);

    // The panel stops; meanwhile one VM is killed and one guest powers off.
    panel = await restartPanel(panel, async () => {
      process.kill(pids[2]!, 'SIGKILL');
      await serialUntil(paths(poweroff).serial, /> poweroff/, 'poweroff\r').catch(() => {});
      for (let i = 0; i < 100 && existsSync(`/proc/${pids[3]}`); i++) await new Promise((r) => setTimeout(r, 20));
    });

    // Both running VMs are still the same processes, adopted and running.
    for (const [i, id] of [one, two].entries()) {
      expect(await stateOf(panel, id)).toBe('running');
      expect(pidOf(id)).toBe(pids[i]);
    }
    expect(panel.agent!.runningIds().sort()).toEqual([one, two].sort());
    // Consoles: talk to the guests.
    for (const id of [one, two]) await serialUntil(panel.agent!.paths(id).serial, /hello after restart/, 'echo hello after restart\r');
    // Metrics through the API of the new panel.
    const c = client(panel.url);
    await c.auth.signIn.mutate({ email: user.email, password: user.password });
    const m = await c.vm.metrics.query({ id: one });
    expect(m).toMatchObject({ memoryBytes: 64 * 2 ** 20 });
    expect(m!.uptimeSeconds).toBeGreaterThan(0.1);
    expect(m!.diskWriteBytes).toBeGreaterThanOrEqual(512);

    // The ones that ended while the panel was down.
    const k = await c.vm.get.query({ id: killed });
    expect(k.state).toBe('crashed');
    expect(k.lastError).toMatch(/^The VM process ended while the panel was down/);
    // A crash nobody saw happen is audited like any other.
    const crash = (await c.audit.list.query({ vmId: killed })).events.find((e) => e.action === 'vm.crash');
    expect(crash).toMatchObject({ outcome: 'error', detail: k.lastError });
    const p = await c.vm.get.query({ id: poweroff });
    expect(p.state).toBe('stopped');
    expect(p.lastError).toBeNull();

    // The adopted VMs are driven as before: a graceful stop, and a kill seen within 2 s.
    await c.vm.stop.mutate({ id: one });
    await waitState(panel, one, 'stopped');
    expect((await c.vm.get.query({ id: one })).lastError).toBeNull();
    const t0 = Date.now();
    process.kill(pids[1]!, 'SIGKILL');
    await waitState(panel, two, 'crashed', 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    await c.vm.start.mutate({ id: two });
    await waitState(panel, two, 'running');
    await c.vm.forceStop.mutate({ id: two });
    await waitState(panel, two, 'stopped');
  }, 60_000);
});

describe('a full data disk during create', () => {
  let mnt: string;
  let panel: Panel;
  let c: Client;

  beforeAll(async () => {
    mnt = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-full-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
    if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
    panel = await startPanel('sqlite', { DATA_DIR: mnt }, { agent: true });
    c = (await withUsers(panel, 1)).users[0]!.c;
  });
  afterAll(async () => {
    await panel?.close();
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('leaves the VM in a clear error state, nothing half-made on disk, and the database consistent', async () => {
    const tdir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-tpl-'));
    const template = path.join(tdir, 'disk.raw');
    writeFileSync(template, Buffer.alloc(8 << 20, 0x5a)); // 8 MiB of data on a 4 MiB disk
    const image = await panel.db.image.create({ data: { name: 'big', kind: 'linux', kernelPath: GUEST, diskTemplatePath: template } });
    try {
      const vm = await c.vm.create.mutate({ name: 'too-big', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      await waitState(panel, vm.id, 'error');
      const got = await c.vm.get.query({ id: vm.id });
      expect(got.lastError).toBe('disk: the host is out of disk space (no space left on device).');
      expect(existsSync(path.join(mnt, 'vms', vm.id))).toBe(false);
      expect(readdirSync(path.join(mnt, 'vms'))).toEqual([]);
      expect((await errorOf(c.vm.start.mutate({ id: vm.id }))).message).toMatch(/Cannot start a VM that is error/);
      const audit = (await c.audit.list.query({ vmId: vm.id })).events.reverse().map((e) => `${e.action}:${e.outcome}`);
      expect(audit).toEqual(['vm.create:ok', 'vm.create_failed:error', 'vm.start:denied']);
      // The quota follows the rows: deleting the failed VM gives it back.
      expect((await c.account.quota.query()).usage.vms).toBe(1);
      await c.vm.delete.mutate({ id: vm.id });
      expect((await c.account.quota.query()).usage.vms).toBe(0);
      expect(await panel.db.vm.count()).toBe(0);
      // The space is still usable: a VM without a template (a sparse disk) is fine.
      const small = await c.vm.create.mutate({ name: 'small', imageId: (await panel.db.image.create({ data: { name: 'plain', kind: 'test-guest', kernelPath: GUEST } })).id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      await waitState(panel, small.id, 'stopped');
      await c.vm.delete.mutate({ id: small.id });
    } finally {
      rmSync(tdir, { recursive: true, force: true });
    }
  });
});

describe('a kernel the host agent may not read', () => {
  let panel: Panel;
  afterAll(async () => { await panel?.close(); });

  it('a directory instead of a kernel is a clear error through the API', async () => {
    panel = await startPanel('sqlite', {}, { agent: true });
    const c = (await withUsers(panel, 1)).users[0]!.c;
    const image = await panel.db.image.create({ data: { name: 'dir', kind: 'linux', kernelPath: os.tmpdir() } });
    const vm = await c.vm.create.mutate({ name: 'dirkernel', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    await waitState(panel, vm.id, 'stopped');
    const e = await errorOf(c.vm.start.mutate({ id: vm.id }));
    expect(e.message).toBe(`image: kernel file ${os.tmpdir()} is not a regular file.`);
    const got = await c.vm.get.query({ id: vm.id });
    expect(got.state).toBe('crashed');
    expect(got.lastError).toBe(e.message);
  });

  it('an unreadable kernel is refused with "permission denied" by an agent without root\'s override', () => {
    // Root reads any file, so the agent runs here in a process whose capability
    // bounding set lacks CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (an agent running as an ordinary user).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-perm-'));
    try {
      const kernel = path.join(dir, 'vmlinuz');
      writeFileSync(kernel, readFileSync(GUEST));
      chownSync(kernel, 65534, 65534);
      chmodSync(kernel, 0o600);
      const dataDir = path.join(dir, 'data');
      mkdirSync(dataDir);
      const script = `
        import { LocalAgent } from ${JSON.stringify(path.join(ROOT_DIR, 'server/agent/local.ts'))};
        const agent = new LocalAgent({ hostId: 'h', dataDir: ${JSON.stringify(dataDir)}, report: () => {} });
        const spec = { id: 'perm', name: 'perm', vcpus: 1, memoryMiB: 64, diskGiB: 1, image: { kernelPath: ${JSON.stringify(kernel)}, initrdPath: null, diskTemplatePath: null, cmdline: '' } };
        await agent.createDisk(spec);
        try { await agent.start(spec); console.log(JSON.stringify({ started: true })); await agent.stopAll(); }
        catch (e) { console.log(JSON.stringify({ error: e.message, name: e.constructor.name })); }
      `;
      const file = path.join(dir, 'try-start.mts');
      writeFileSync(file, script);
      const r = spawnSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--inh-caps', '-all', path.join(ROOT_DIR, 'node_modules/.bin/tsx'), file], { encoding: 'utf8', cwd: ROOT_DIR, timeout: 30_000 });
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      expect(out).toEqual({ error: `image: kernel file ${kernel} is not readable by the host agent (permission denied).`, name: 'AgentError' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
