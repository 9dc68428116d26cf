// Once per test run:
// - one temporary directory for the whole run (TMPDIR for every worker), removed at the end with
//   any VM process left in it, so test panels, databases and VM dirs do not pile up in /tmp;
// - a migrated SQLite template database that each test copies (fast);
// - a real PostgreSQL server on loopback with a migrated template database;
// both migrated by scripts/migrate.mjs, as `npm run up` does.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { PG_TEMPLATE, startPostgres, postgresAvailable, type PgServer } from './postgres';

const RUN_TMP = mkdtempSync(path.join(os.tmpdir(), 'kvmpanel-vitest-'));
chmodSync(RUN_TMP, 0o755); // the PostgreSQL server runs as `postgres` and keeps its data dir in here
// Per run, so two runs at once (or a run and a bench) never share a template.
const TEMPLATE_DIR = path.join(RUN_TMP, 'template');

/** VM processes whose command line names the run's directory (tests kill theirs; this catches the rest). */
function killLeftoverVms(dir: string) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('kvmvmm-runner') && cmd.includes(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

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
  process.env.TMPDIR = RUN_TMP; // inherited by the workers: os.tmpdir() is inside the run's directory
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
    killLeftoverVms(RUN_TMP);
    if (!process.env.KEEP_TEST_TMP) rmSync(RUN_TMP, { recursive: true, force: true });
  };
}
