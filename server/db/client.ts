// The Prisma client for the configured database. Both providers share one
// schema; each has its own generated client (server/generated/*), and the
// SQLite one's types are the project's types for both.
import path from 'node:path';
import { createRequire } from 'node:module';
import type { PrismaClient } from '../generated/sqlite/index.js';

export type Db = PrismaClient;
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

const require = createRequire(import.meta.url);

export async function createDb(databaseUrl: string): Promise<Db> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const { PrismaClient: PgClient } = require('../generated/postgresql/index.js');
    return new PgClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) }) as Db;
  }
  const file = databaseUrl.replace(/^file:/, '');
  const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
  const { PrismaClient: SqliteClient } = require('../generated/sqlite/index.js');
  const db = new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: `file:${path.resolve(file)}` }) }) as Db;
  // WAL lets readers proceed while a writer holds the lock; busy_timeout makes
  // a second process (a CLI, a test) wait instead of failing.
  await db.$queryRawUnsafe('PRAGMA journal_mode = WAL');
  await db.$executeRawUnsafe('PRAGMA busy_timeout = 5000');
  await db.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  return db;
}
