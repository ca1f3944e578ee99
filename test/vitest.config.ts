import { defineConfig } from 'vitest/config';

// One file per scenario family, run one at a time: they start libvirt hosts, QEMU guests, controllers
// and agent processes, which a small machine shared with other suites runs best in sequence.
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    include: ['**/*.e2e.test.ts'],
    exclude: ['node_modules/**'],
    // `cockpit-agent` and the controller run compiled (dist/main.js), rebuilt first when a source changed.
    globalSetup: ['../scripts/build-before-tests.mjs'],
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
