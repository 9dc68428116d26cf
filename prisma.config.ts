// Prisma CLI configuration: the JS schema engine with driver adapters, so
// generate and migrate work offline (Prisma's native engines are never
// downloaded). DATABASE_URL picks the provider: postgres(ql):// → PostgreSQL,
// anything else (or unset) → the embedded SQLite file under the data dir.
import path from 'node:path';
import { defineConfig } from 'prisma/config';

const url = process.env.DATABASE_URL ?? '';
const isPostgres = /^postgres(ql)?:\/\//.test(url);
const sqliteFile = url.startsWith('file:')
  ? url.slice('file:'.length)
  : path.join(process.env.DATA_DIR ?? 'data', 'panel.db');

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: isPostgres ? 'prisma/postgresql/schema.prisma' : 'prisma/schema.prisma',
  migrations: { path: isPostgres ? 'prisma/postgresql/migrations' : 'prisma/migrations' },
  async adapter() {
    if (isPostgres) {
      const { PrismaPg } = await import('@prisma/adapter-pg');
      return new PrismaPg({ connectionString: url });
    }
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    return new PrismaBetterSQLite3({ url: `file:${path.resolve(sqliteFile)}` });
  },
});
