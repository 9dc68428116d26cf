// Applies the committed migrations (prisma/migrations for SQLite,
// prisma/postgresql/migrations for PostgreSQL) in order, once each.
//
// Why not `prisma migrate deploy`: Prisma's JS schema engine fails on
// PostgreSQL through the pg adapter (it cannot read columns of type `name`,
// prisma/orm#27403), and the native engine would need a download. The
// migrations themselves are still written by `prisma migrate diff`
// (scripts/new-migration.mjs), which works offline.
//
// Usage: node scripts/migrate.mjs [DATABASE_URL]   (default: DATABASE_URL, else the data dir's SQLite file)
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export function defaultDatabaseUrl(env = process.env) {
  const dataDir = path.resolve(env.DATA_DIR ?? path.join(root, 'data'));
  return env.DATABASE_URL ?? `file:${path.join(dataDir, 'panel.db')}`;
}

function migrationsFor(isPostgres) {
  const dir = path.join(root, isPostgres ? 'prisma/postgresql/migrations' : 'prisma/migrations');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => ({ name: d.name, sql: readFileSync(path.join(dir, d.name, 'migration.sql'), 'utf8') }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const TABLE = '_kvmpanel_migrations';

async function migrateSqlite(file, log) {
  mkdirSync(path.dirname(file), { recursive: true });
  const Database = require('better-sqlite3');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`);
    const done = new Set(db.prepare(`SELECT name FROM "${TABLE}"`).all().map((r) => r.name));
    for (const m of migrationsFor(false)) {
      if (done.has(m.name)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare(`INSERT INTO "${TABLE}" (name, applied_at) VALUES (?, ?)`).run(m.name, new Date().toISOString());
      })();
      log(`migrate: applied ${m.name}`);
    }
  } finally {
    db.close();
  }
}

async function migratePostgres(url, log) {
  const pg = require('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS "${TABLE}" (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    // One migrator at a time, even when several panels start together.
    await client.query('SELECT pg_advisory_lock(727274)');
    const done = new Set((await client.query(`SELECT name FROM "${TABLE}"`)).rows.map((r) => r.name));
    for (const m of migrationsFor(true)) {
      if (done.has(m.name)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(`INSERT INTO "${TABLE}" (name) VALUES ($1)`, [m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${e.message}`);
      }
      log(`migrate: applied ${m.name}`);
    }
  } finally {
    await client.end();
  }
}

export async function migrate(databaseUrl = defaultDatabaseUrl(), log = (s) => console.error(s)) {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return migratePostgres(databaseUrl, log);
  return migrateSqlite(path.resolve(databaseUrl.replace(/^file:/, '')), log);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  migrate(process.argv[2] ?? defaultDatabaseUrl()).then(
    () => console.error('migrate: database is up to date'),
    (e) => {
      console.error(`migrate: ${e.message}`);
      process.exit(1);
    },
  );
}
