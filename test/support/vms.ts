// What the lifecycle tests share: the test guest, waiting for a VM's stored
// state, and talking to a VM's serial console (where the guest says "guest ready").
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { ROOT_DIR } from '../../server/config';
import { createDb, type Db } from '../../server/db/client';
import { createServices } from '../../server/services';
import { createPanelServer } from '../../server/http';
import { startLocalAgent } from '../../server/agent/boot';
import type { LocalAgent } from '../../server/agent/local';
import type { TestPanel } from './server';

export type PanelWithAgent = TestPanel & { agent: LocalAgent | null };

export const GUEST = path.join(ROOT_DIR, 'native/guest/build/guest.elf');
export const RUNNER = path.join(ROOT_DIR, 'native/build/kvmvmm-runner');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails early with what to build when the VMM or the test guest is missing. */
export function requireVmm(): void {
  if (!existsSync(GUEST) || !existsSync(RUNNER)) throw new Error('build first: make -C native runner && npm run guest');
}

/** The test guest as an image row (boots on every KVM host). */
export function addGuestImage(db: Db, name = 'test-guest', extra: { diskTemplatePath?: string; builtin?: boolean } = {}) {
  return db.image.create({ data: { name, kind: 'test-guest', kernelPath: GUEST, ...extra } });
}

export async function stateOf(panel: Pick<TestPanel, 'db'>, id: string): Promise<string> {
  return (await panel.db.vm.findUniqueOrThrow({ where: { id } })).state;
}

/** Polls the stored state until it is `want` (a deleted VM counts as 'deleted'). */
export async function waitState(panel: Pick<TestPanel, 'db'>, id: string, want: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const s = (await panel.db.vm.findUnique({ where: { id } }))?.state ?? 'deleted';
    if (s === want) return;
    if (Date.now() > until) throw new Error(`VM ${id} is ${s}, expected ${want}`);
    await sleep(20);
  }
}

export async function waitFor(f: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(20);
  }
}

/**
 * Opens the serial console, optionally types `send`, and reads until `re`
 * (the runner replays recent output to each new client). Rejects if the
 * socket closes first (e.g. the guest powered off).
 */
export function serialUntil(sock: string, re: RegExp, send?: string, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = net.connect(sock);
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`timeout waiting for ${re}: ${out.slice(-200)}`)); }, ms);
    c.on('connect', () => send && c.write(send));
    c.on('data', (d) => { out += d.toString('latin1'); if (re.test(out)) { clearTimeout(timer); c.destroy(); resolve(out); } });
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
    c.on('close', () => { clearTimeout(timer); reject(new Error(`serial closed before ${re}: ${out.slice(-200)}`)); });
  });
}

/** serialUntil across a restart of the VM process (a new serial socket): reconnects until `re` shows. */
export async function serialEventually(sock: string, re: RegExp, ms = 10_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await serialUntil(sock, re, undefined, 1000);
    } catch (e) {
      if (Date.now() > until) throw e;
      await sleep(20);
    }
  }
}

type VmClient = {
  vm: {
    create: { mutate(input: { name: string; imageId: string; vcpus: number; memoryMiB: number; diskGiB: number }): Promise<{ id: string }> };
    start: { mutate(input: { id: string }): Promise<unknown> };
  };
};

/**
 * Creates a VM through the API, waits for its disk, starts it and waits for
 * `running`; with `serial` (the VM's serial socket path, from its id) also
 * for the guest to say "guest ready".
 */
export async function runningVm(
  panel: Pick<TestPanel, 'db'>,
  c: VmClient,
  imageId: string,
  name: string,
  opts: { vcpus?: number; memoryMiB?: number; serial?: (id: string) => string } = {},
): Promise<string> {
  const vm = await c.vm.create.mutate({ name, imageId, vcpus: opts.vcpus ?? 1, memoryMiB: opts.memoryMiB ?? 64, diskGiB: 1 });
  await waitState(panel, vm.id, 'stopped');
  await c.vm.start.mutate({ id: vm.id });
  await waitState(panel, vm.id, 'running');
  if (opts.serial) await serialUntil(opts.serial(vm.id), /guest ready/);
  return vm.id;
}

/**
 * A restart of the panel within this process: the first panel goes away
 * (its local agent forgets its VM processes, which keep running), `meanwhile`
 * runs, and a second panel starts on the same database and data directory.
 */
export async function restartPanel(first: PanelWithAgent, meanwhile: () => Promise<void> = async () => {}): Promise<PanelWithAgent> {
  const { config } = first.services;
  first.agent?.release();
  await first.close();
  await meanwhile();
  const db = await createDb(config.databaseUrl);
  const services = createServices(config, db);
  const agent = await startLocalAgent(services);
  const server = createPanelServer(services);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, services, db, agent,
    async close() {
      await agent?.stopAll();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await db.$disconnect();
    },
  };
}
