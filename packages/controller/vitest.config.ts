import { defineConfig } from 'vitest/config';

// Every test file that touches PostgreSQL creates its own database (test/support/test-database.ts),
// so files may run in parallel; two workers leave room on small machines shared with other suites.
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // main.test.ts runs the production build, rebuilt first when a source changed.
    globalSetup: ['test/support/global-setup.ts', '../../scripts/build-before-tests.mjs'],
    maxWorkers: 2,
    testTimeout: 30_000,
    // Starting PGlite or a PostgreSQL container takes seconds.
    hookTimeout: 120_000,
  },
});
