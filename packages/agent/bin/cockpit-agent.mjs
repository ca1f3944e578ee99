#!/usr/bin/env node
// The `cockpit-agent` command: the compiled agent (dist/main.js), which `pnpm install` builds. No
// TypeScript loader runs in production (see scripts/build.mjs); `pnpm dev` runs the sources as they are.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'cockpit-agent: dist/main.js is missing; run `pnpm install` or `pnpm build` at the repository root\n',
  );
  process.exit(2);
}
process.setSourceMapsEnabled(true);
await import(main.href);
