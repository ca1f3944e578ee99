import { defineConfig } from 'vitest/config';

// Unit tests beside the code (src/), suites with real gRPC servers, child agents and libvirt hosts in
// test/. Two workers leave room on small machines shared with other suites.
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // `cockpit-agent` runs compiled (dist/main.js), rebuilt first when a source changed.
    globalSetup: ['../../scripts/build-before-tests.mjs'],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
