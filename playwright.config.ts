import { defineConfig } from '@playwright/test';

// Browser tests against the real panel: e2e/global-setup.ts migrates a fresh
// temporary data dir, starts `tsx server/main.ts` (production Next build) on a
// free port and passes its URL to the workers through E2E_BASE_URL.
// Chromium is Debian's (/usr/bin/chromium); no browser is ever downloaded.
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  globalSetup: './e2e/global-setup.ts',
  fullyParallel: false,
  workers: 1, // one panel shared by the spec files, which run one after another
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    headless: true,
    viewport: { width: 1280, height: 860 },
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  },
  projects: [
    // First-run setup happens once, before every spec file (which then sign in as ADMIN).
    { name: 'setup', testMatch: /first-run\.setup\.ts$/, use: { browserName: 'chromium' } },
    { name: 'chromium', dependencies: ['setup'], use: { browserName: 'chromium' } },
  ],
});
