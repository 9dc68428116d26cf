// Starts the real panel server (without the Next.js pages) on a fresh
// database, and gives tests tRPC clients that keep cookies like a browser.
import { copyFileSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { createDatabase, PG_TEMPLATE } from './postgres';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { loadConfig } from '../../server/config';
import { createDb, type Db } from '../../server/db/client';
import { createServices, type Services } from '../../server/services';
import { createPanelServer } from '../../server/http';
import type { AppRouter } from '../../server/api/root';
import { startLocalAgent } from '../../server/agent/boot';
import type { LocalAgent } from '../../server/agent/local';

export type DbKind = 'sqlite' | 'postgres';

export async function freshDatabaseUrl(kind: DbKind): Promise<string> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-test-'));
    const file = path.join(dir, 'panel.db');
    copyFileSync(inject('sqliteTemplate'), file);
    return `file:${file}`;
  }
  const admin = inject('pgAdminUrl');
  if (!admin) throw new Error('PostgreSQL not available');
  const name = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  return createDatabase(admin, name, PG_TEMPLATE);
}

export interface TestPanel {
  url: string;
  services: Services;
  db: Db;
  close(): Promise<void>;
}

export async function startPanel(kind: DbKind = 'sqlite', env: Record<string, string> = {}, opts: { agent?: boolean } = {}): Promise<TestPanel & { agent: LocalAgent | null }> {
  const databaseUrl = await freshDatabaseUrl(kind);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-data-'));
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', ...env });
  const db = await createDb(config.databaseUrl);
  const services = createServices(config, db);
  const agent = opts.agent ? await startLocalAgent(services) : null;
  const server = createPanelServer(services);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    services,
    db,
    agent,
    async close() {
      await agent?.stopAll();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await db.$disconnect();
    },
  };
}

/** A tRPC client over HTTP with its own cookie jar (one per simulated browser). */
export function client(url: string, opts: { bearer?: string; origin?: string } = {}) {
  const jar = new Map<string, string>();
  const trpc = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/api/trpc`,
        transformer: superjson,
        fetch: async (input, init) => {
          const headers = new Headers(init?.headers);
          if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
          if (opts.bearer) headers.set('authorization', `Bearer ${opts.bearer}`);
          if (opts.origin) headers.set('origin', opts.origin);
          const res = await fetch(input, { ...init, headers } as RequestInit);
          for (const c of res.headers.getSetCookie()) {
            const [pair] = c.split(';');
            const eq = pair!.indexOf('=');
            const name = pair!.slice(0, eq);
            const value = pair!.slice(eq + 1);
            if (/Max-Age=0/.test(c) || value === '') jar.delete(name);
            else jar.set(name, value);
          }
          return res;
        },
      }),
    ],
  });
  jars.set(trpc, jar);
  return trpc;
}

// The client is a Proxy (every property is a procedure path), so its cookie jar lives beside it.
const jars = new WeakMap<object, Map<string, string>>();
export function jarOf(c: object): Map<string, string> {
  const jar = jars.get(c);
  if (!jar) throw new Error('not a test client');
  return jar;
}

export type Client = ReturnType<typeof client>;

/** The tRPC error code of a rejected call (fails the test if it resolved). */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string; data: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError) return { code: e.data?.code, message: e.message, data: e.data ?? {} };
    throw e;
  }
  throw new Error('expected the call to fail, it succeeded');
}

export const ADMIN = { email: 'admin@example.org', name: 'Admin', password: 'correct horse battery' };

/** First-run setup plus N ordinary users, each with its own signed-in client. */
export async function withUsers(panel: TestPanel, n: number) {
  const admin = client(panel.url);
  await admin.auth.setup.mutate(ADMIN);
  const users: { id: string; email: string; password: string; c: Client }[] = [];
  for (let i = 0; i < n; i++) {
    const email = `user${i}@example.org`;
    const password = `password-${i}-long-enough`;
    const { id } = await admin.admin.createUser.mutate({ email, name: `User ${i}`, password, role: 'user' });
    const c = client(panel.url);
    await c.auth.signIn.mutate({ email, password });
    users.push({ id, email, password, c });
  }
  return { admin, users };
}

export async function addImage(db: Db, name = 'test-guest') {
  return db.image.create({ data: { name, kind: 'test-guest', kernelPath: '/nonexistent/guest.elf', minMemoryMiB: 32, builtin: true } });
}
