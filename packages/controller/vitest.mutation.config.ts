import { defineConfig } from 'vitest/config';

// Stryker's test run (stryker.config.json): the tests that exercise src/auth (its own tests and the
// auth routes', the token checks behind every route, retention of dead tokens), each file in its own
// database as in the full suite.
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    include: [
      'src/auth/**/*.test.ts',
      'src/routes/v1-auth-*.test.ts',
      'src/routes/v1-users-password.test.ts',
      'src/http/require-role.test.ts',
      'src/retention/retention.test.ts',
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
