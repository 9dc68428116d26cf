// Once per test run:
// - a migrated SQLite template database that each test copies (fast);
// - a real PostgreSQL server on loopback with a migrated template database;
// both migrated by scripts/migrate.mjs, as `npm run up` does.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { PG_TEMPLATE, startPostgres, postgresAvailable, type PgServer } from './postgres';

export const TEMPLATE_DIR = path.resolve('test/.tmp/template');

// @ts-expect-error plain ESM script without types
import { migrate as applyMigrations } from '../../scripts/migrate.mjs';

const migrate = (url: string): Promise<void> => applyMigrations(url, () => {});

declare module 'vitest' {
  export interface ProvidedContext {
    sqliteTemplate: string;
    pgAdminUrl: string | null;
  }
}

let pgServer: PgServer | null = null;

export default async function setup(project: TestProject) {
  rmSync(TEMPLATE_DIR, { recursive: true, force: true });
  mkdirSync(TEMPLATE_DIR, { recursive: true });
  const sqlite = path.join(TEMPLATE_DIR, 'panel.db');
  await migrate(`file:${sqlite}`);
  project.provide('sqliteTemplate', sqlite);

  if (postgresAvailable() && process.env.SKIP_POSTGRES !== '1') {
    pgServer = await startPostgres();
    await migrate(await pgServer.createDatabase(PG_TEMPLATE));
    project.provide('pgAdminUrl', pgServer.url('postgres'));
  } else {
    if (process.env.CI) throw new Error('PostgreSQL is required for the test suite (apt-get install -y postgresql)');
    project.provide('pgAdminUrl', null);
  }

  return async () => {
    await pgServer?.stop();
  };
}
