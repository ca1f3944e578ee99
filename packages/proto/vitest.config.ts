import { defineConfig } from 'vitest/config';

// biome-ignore lint/style/noDefaultExport: vitest reads the config from the default export.
export default defineConfig({ test: { include: ['src/**/*.test.ts'], testTimeout: 20_000 } });
