// `npm run agent`: a host agent for a panel on another machine. It runs VMs
// here (LocalAgent), serves the agent API for the panel, registers with the
// panel using the host token an admin created, and reports its VMs' fate.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import superjson from 'superjson';
import { z } from 'zod';
import type { AppRouter } from '../api/root';
import { newToken, sha256 } from '../auth/secrets';
import { HOST_TOKEN_PREFIX } from '../auth/sessions';
import { ROOT_DIR } from '../config';
import { agentContext, agentRouter } from './api';
import { agentConsoleRoute } from '../console/remote';
import { LocalAgent, type AgentReport } from './local';

export const agentEnvSchema = z.object({
  PANEL_URL: z.url(),
  AGENT_TOKEN: z.string().startsWith(HOST_TOKEN_PREFIX, `must be a host token (${HOST_TOKEN_PREFIX}…) created in the panel's admin page`),
  AGENT_URL: z.url().optional(), // how the panel reaches this agent; default http://HOST:PORT
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  DATA_DIR: z.string().default(path.join(ROOT_DIR, 'data')),
  REGISTER_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
});

export interface StandaloneAgent {
  url: string;
  local: LocalAgent;
  close(opts?: { stopVms?: boolean }): Promise<void>;
}

export async function startStandaloneAgent(env: Record<string, string | undefined>): Promise<StandaloneAgent> {
  const parsed = agentEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  const cfg = parsed.data;
  const panel = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${cfg.PANEL_URL.replace(/\/$/, '')}/api/trpc`, transformer: superjson, headers: { authorization: `Bearer ${cfg.AGENT_TOKEN}` } })],
  });

  // Reports are retried in order until the panel takes them (it may be restarting).
  const queue: AgentReport[] = [];
  let flushing = false;
  const flush = async () => {
    if (flushing) return;
    flushing = true;
    try {
      while (queue.length) {
        try {
          await panel.hosts.report.mutate(queue[0]!);
        } catch (e) {
          // The panel refused this report for good (e.g. the VM was deleted): the next ones must not wait behind it.
          const code = e instanceof TRPCClientError ? (e.data as { code?: string } | undefined)?.code : undefined;
          if (code !== 'NOT_FOUND' && code !== 'BAD_REQUEST' && code !== 'PRECONDITION_FAILED') throw e;
          console.error(`agent: the panel refused a report (${queue[0]!.event} of ${queue[0]!.vmId}): ${(e as Error).message}`);
        }
        queue.shift();
      }
    } catch (e) {
      console.error(`agent: report to panel failed (will retry): ${(e as Error).message}`);
      setTimeout(() => void flush(), 1000).unref();
    } finally {
      flushing = false;
    }
  };

  const local = new LocalAgent({ hostId: 'this-host', dataDir: path.resolve(cfg.DATA_DIR), report: (r) => { queue.push(r); void flush(); } });
  const adopted = local.adoptFromDisk();

  // The key the panel must present when it calls us: new at every start, never stored.
  const key = newToken();
  const handler = createHTTPHandler({
    router: agentRouter(local),
    basePath: '/agent/',
    maxBodySize: 64 * 1024,
    createContext: ({ req }) => agentContext(sha256(key), req.headers.authorization),
  });
  const server = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/agent/')) return handler(req, res);
    res.writeHead(404).end();
  });
  // VM consoles for the panel's bridge (same key as the API).
  const consoles = agentConsoleRoute(local, sha256(key));
  server.on('upgrade', (req, socket, head) => consoles(req, socket, head) || socket.end('HTTP/1.1 404 Not Found\r\n\r\n'));
  await new Promise<void>((r) => server.listen(cfg.PORT, cfg.HOST, r));
  const port = (server.address() as AddressInfo).port;
  const url = cfg.AGENT_URL ?? `http://${cfg.HOST.includes(':') ? `[${cfg.HOST}]` : cfg.HOST}:${port}`;

  const register = async () => {
    try {
      await panel.hosts.register.mutate({ url, key, capacity: await local.capacity(), running: local.runningIds() });
    } catch (e) {
      console.error(`agent: registering with ${cfg.PANEL_URL} failed (will retry): ${(e as Error).message}`);
    }
  };
  await register();
  const timer = setInterval(() => void register(), cfg.REGISTER_INTERVAL_MS);
  timer.unref();
  console.error(`agent: serving on ${url}, registered with ${cfg.PANEL_URL} (${adopted.length} running VMs adopted)`);

  return {
    url,
    local,
    async close(opts = {}) {
      clearInterval(timer);
      if (opts.stopVms) await local.stopAll();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startStandaloneAgent(process.env).catch((e) => {
    console.error(`agent: ${(e as Error).message}`);
    process.exit(2);
  });
}
