// Derives prisma/postgresql/schema.prisma from prisma/schema.prisma (the
// single source of truth) so both providers always have the same models.
// Node built-ins only: it runs before `npm install` has finished in `npm run up`.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function writePostgresSchema() {
  const src = readFileSync(join(root, 'prisma/schema.prisma'), 'utf8');
  const out = src
    .replace('provider = "sqlite"', 'provider = "postgresql"')
    .replace('url      = "file:unused.db"', 'url      = "postgresql://unused"')
    .replace('output          = "../server/generated/sqlite"', 'output          = "../../server/generated/postgresql"');
  if (out === src) throw new Error('prisma/schema.prisma: datasource or generator block not in the expected form');
  mkdirSync(join(root, 'prisma/postgresql'), { recursive: true });
  const header = '// GENERATED from prisma/schema.prisma by scripts/prisma-schemas.mjs. Do not edit.\n';
  writeFileSync(join(root, 'prisma/postgresql/schema.prisma'), header + out);
}

if (import.meta.url === `file://${process.argv[1]}`) writePostgresSchema();
