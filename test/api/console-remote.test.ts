// Consoles of a VM on a remote host agent (`npm run agent`, here in the same
// process on loopback): the bridge reaches the VM through the agent's
// key-protected WebSocket endpoint.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startPanel, withUsers, type TestPanel } from '../support/server';
import { cookieOf, openConsole } from '../support/consoleClient';
import { startStandaloneAgent, type StandaloneAgent } from '../../server/agent/standalone';
import { ROOT_DIR } from '../../server/config';
import { CONSOLE_CLOSE } from '../../server/console/protocol';
import { openAgentConsole } from '../../server/console/remote';
import { RemoteAgent } from '../../server/agent/remote';
import { AgentError } from '../../server/agent/types';

let panel: TestPanel;
let setup: Awaited<ReturnType<typeof withUsers>>;
let agent: StandaloneAgent;
let vmId: string;

async function waitState(id: string, want: string, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    const s = (await panel.db.vm.findUniqueOrThrow({ where: { id } })).state;
    if (s === want) return;
    if (Date.now() > until) throw new Error(`VM is ${s}, expected ${want}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  panel = await startPanel('sqlite'); // no local agent: the only host is the remote one
  setup = await withUsers(panel, 1);
  const { token } = await setup.admin.hosts.create.mutate({ name: 'node-2' });
  agent = await startStandaloneAgent({
    PANEL_URL: panel.url, AGENT_TOKEN: token, PORT: '0', DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-agent-console-')), REGISTER_INTERVAL_MS: '200',
  });
  const image = await panel.db.image.create({ data: { name: 'test-guest', kind: 'test-guest', kernelPath: path.join(ROOT_DIR, 'native/guest/build/guest.elf') } });
  const c = setup.users[0]!.c;
  vmId = (await c.vm.create.mutate({ name: 'far', imageId: image.id, vcpus: 1, memoryMiB: 64, diskGiB: 1 })).id;
  await waitState(vmId, 'stopped');
  await c.vm.start.mutate({ id: vmId });
  await waitState(vmId, 'running');
});
afterAll(async () => {
  await agent?.close({ stopVms: true });
  await panel?.close();
});

describe('consoles of a VM on a remote host agent', () => {
  it('serial and VNC go through the agent; the VM stopping closes them with vmStopped', async () => {
    const c = setup.users[0]!.c;
    const serialTicket = await c.console.ticket.mutate({ vmId, kind: 'serial' });
    const serial = await openConsole(panel.url, serialTicket.path, { cookie: cookieOf(c) });
    expect(serial.status).toBe(101);
    await serial.col!.until(/guest ready/);
    const from = serial.col!.data.length;
    serial.ws!.send('echo hello\r');
    await serial.col!.until(/echo hello\r?\nhello\r?\n/, 10_000, from);

    const vncTicket = await c.console.ticket.mutate({ vmId, kind: 'vnc' });
    const vnc = await openConsole(panel.url, vncTicket.path, { cookie: cookieOf(c), protocols: ['binary'] });
    expect(vnc.status).toBe(101);
    expect((await vnc.col!.bytesAtLeast(12)).subarray(0, 12).toString('latin1')).toBe('RFB 003.008\n');

    const t0 = Date.now();
    await c.vm.forceStop.mutate({ id: vmId });
    const [a, b] = await Promise.all([serial.col!.closed, vnc.col!.closed]);
    expect([a.code, b.code]).toEqual([CONSOLE_CLOSE.vmStopped, CONSOLE_CLOSE.vmStopped]);
    expect(Math.max(a.at, b.at) - t0).toBeLessThan(1000);
  });

  it('the agent refuses console connections without its key', async () => {
    for (const auth of [undefined, 'Bearer wrong']) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${agent.url.replace(/^http/, 'ws')}/agent/console/serial/${vmId}`, auth ? { headers: { authorization: auth } } : {});
        ws.once('open', () => { ws.close(); resolve(101); });
        ws.once('unexpected-response', (req, res) => { req.destroy(); resolve(res.statusCode ?? 0); });
        ws.once('error', reject);
      });
      expect(status).toBe(401);
    }
  });

  it('an unreachable agent: users get a generic message, the agent’s address stays in the log', async () => {
    const logged: string[] = [];
    const error = console.error;
    console.error = (...a: unknown[]) => { logged.push(a.join(' ')); };
    try {
      const dead = 'http://127.0.0.1:1';
      const e1 = await openAgentConsole(dead, 'key', vmId, 'serial').then(() => null, (e: unknown) => e);
      expect(e1).toBeInstanceOf(AgentError);
      expect((e1 as Error).message).toBe('The VM’s host is unreachable.');
      const e2 = await new RemoteAgent('h1', dead, 'key').stop(vmId, { force: true }).then(() => null, (e: unknown) => e);
      expect(e2).toBeInstanceOf(AgentError);
      expect((e2 as Error).message).toBe('The VM’s host is unreachable.');
      // A refusal that is not "not running here" (401 with a wrong key) is generic too.
      const e3 = await openAgentConsole(agent.url, 'wrong', vmId, 'serial').then(() => null, (e: unknown) => e);
      expect((e3 as Error).message).toBe('The VM’s host is unreachable.');
    } finally {
      console.error = error;
    }
    expect(logged.filter((l) => l.includes('127.0.0.1:1')).length).toBe(2);
    expect(logged.some((l) => l.includes('HTTP 401'))).toBe(true);
  });
});
