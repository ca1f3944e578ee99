// A simulated host alone in its own process, for tests that kill a migration's destination with
// SIGKILL: run with `node --import tsx`, it prints its migration URI on one line and waits.
import { SimulatedDriver } from '../../src/driver/simulated/simulated-driver.ts';

const driver = new SimulatedDriver({
  hostname: process.argv[2] ?? 'sim-destination',
  seed: 'test',
  vmCount: 0,
  changesPerMinute: 0,
  crashes: false,
  opDelayMs: 1,
  migrationUri: 'sim+tcp://127.0.0.1:0',
});
await driver.start({
  vm: () => undefined,
  vmRemoved: () => undefined,
  inventory: () => undefined,
  host: () => undefined,
});
process.stdout.write(`${driver.migration.advertisedUri()}\n`);
setInterval(() => undefined, 60_000);
