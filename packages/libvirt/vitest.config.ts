import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node (XDR, framing, the RPC client against the mock
// daemon, the generator), `integration` starts real libvirtd daemons and QEMU guests (root).
// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'bench/**/*.test.ts'] } },
      { test: { name: 'integration', include: ['test/**/*.test.ts'] } },
    ],
  },
});
