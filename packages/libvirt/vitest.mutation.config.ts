import { defineConfig } from 'vitest/config';

// Stryker's test run (stryker.config.json): the unit tests only, in one project (no daemon, no root).
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: { include: ['src/**/*.test.ts'] },
});
