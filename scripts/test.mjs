// `npm test`: installs what the tests need (npm packages; Debian's chromium
// and postgresql when missing and running as root), builds everything, and
// runs every suite: native unit tests and bounded fuzzing, a strict type check, the vitest suites
// (domain, API over HTTP on SQLite and PostgreSQL, VMM integration), and the
// Playwright browser tests. Ends with one summary line.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildNative, buildNext, ensureDebianPackages, ensureNodeModules, generatePrisma, ROOT, run, step } from './lib/steps.mjs';

const only = process.argv.slice(2); // e.g. `npm test -- native vitest`
const want = (suite) => only.length === 0 || only.includes(suite);
const results = [];
const tmp = path.join(ROOT, 'test/.tmp');

function record(suite, passed, failed, skipped = 0) {
  results.push({ suite, passed, failed, skipped });
  process.stderr.write(`${suite}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
}

function nativeSuite() {
  step('Native unit tests (C++, no Node)');
  const r = run('make', ['-C', 'native', '-j2', 'test'], { capture: true, allowFailure: true });
  process.stderr.write(r.stdout.split('\n').filter((l) => !l.startsWith('ok ')).join('\n'));
  const m = /native unit tests: (\d+) passed, (\d+) failed/.exec(r.stdout);
  if (!m) throw new Error(`native tests did not run:\n${r.stderr}`);
  record('native', Number(m[1]), Number(m[2]));

  step('Fuzzing device, virtio and boot parsers (bounded)');
  const f = run('native/build/unit_tests', ['--fuzz', 'all', '--seconds', process.env.FUZZ_SECONDS ?? '3'], { capture: true, allowFailure: true });
  process.stderr.write(f.stdout + f.stderr);
  const ran = (f.stdout.match(/no crash/g) ?? []).length;
  record('fuzz', ran, f.status === 0 ? 0 : 1);
}

function typecheckSuite() {
  step('Type check (tsc --noEmit, strict, the whole project)');
  const r = run(path.join(ROOT, 'node_modules/.bin/tsc'), ['--noEmit', '-p', '.'], { capture: true, allowFailure: true });
  process.stderr.write(r.stdout);
  record('typecheck', r.status === 0 ? 1 : 0, r.status === 0 ? 0 : 1);
}

function vitestSuite() {
  step('vitest: domain rules, API over HTTP (SQLite + PostgreSQL), VMM integration');
  const out = path.join(tmp, 'vitest.json');
  rmSync(out, { force: true });
  run(path.join(ROOT, 'node_modules/.bin/vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], { allowFailure: true });
  if (!existsSync(out)) throw new Error('vitest produced no report');
  const j = JSON.parse(readFileSync(out, 'utf8'));
  // A file that fails to load has no failed test but fails the run: count it.
  record('vitest', j.numPassedTests, j.numFailedTests || (j.success ? 0 : 1), j.numPendingTests + j.numTodoTests);
}

function e2eSuite() {
  step('Browser tests (Playwright driving Debian chromium)');
  const out = path.join(tmp, 'playwright.json');
  rmSync(out, { force: true });
  run(path.join(ROOT, 'node_modules/.bin/playwright'), ['test', '--reporter=list,json'], { allowFailure: true, env: { PLAYWRIGHT_JSON_OUTPUT_NAME: out } });
  if (!existsSync(out)) throw new Error('playwright produced no report');
  const s = JSON.parse(readFileSync(out, 'utf8')).stats;
  record('e2e', s.expected + s.flaky, s.unexpected, s.skipped);
}

try {
  mkdirSync(tmp, { recursive: true });
  ensureNodeModules();
  ensureDebianPackages(['postgresql', 'chromium', 'vncsnapshot', 'netpbm']);
  await generatePrisma();
  buildNative();
  if (want('e2e')) buildNext();
  if (want('native')) nativeSuite();
  if (want('typecheck')) typecheckSuite();
  if (want('vitest')) vitestSuite();
  if (want('e2e') && existsSync(path.join(ROOT, 'playwright.config.ts'))) e2eSuite();
} catch (e) {
  console.error(`test: ${e.message}`);
  record('setup', 0, 1);
}

const total = results.reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
console.log(`tests: ${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exit(total.failed ? 1 : 0);
