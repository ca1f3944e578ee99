// vitest globalSetup of the suites that start `cockpit-agent` or the controller as processes: they run
// the production build (dist/main.js), rebuilt here when a source changed since the last build.
import { build } from './build.mjs';

export async function setup() {
  await build();
}
