import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'server/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers and VMs: two workers match the machine's two cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
