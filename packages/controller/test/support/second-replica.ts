import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningController, startController } from '../../src/controller.ts';
import { connect } from '../../src/database/connect.ts';
import { createLogger } from '../../src/log.ts';
import type { TestApp } from './test-app.ts';

/**
 * A second controller replica on the test app's database (its own data folder, ports and pool; signals
 * across replicas through LISTEN/NOTIFY), for tests of what several replicas do together.
 */
export async function startSecondReplica(
  a: TestApp,
  options: { migrationLeaseMs?: number } = {},
): Promise<{ controller: RunningController; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cockpit-replica-b-'));
  const sql = connect(a.db.url, { max: 4 });
  const controller = await startController({
    env: {
      COCKPIT_DATA_DIR: dir,
      COCKPIT_HTTP_PORT: '0',
      COCKPIT_GRPC_PORT: '0',
      COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
      COCKPIT_LOG_LEVEL: 'silent',
      COCKPIT_GRPC_INSECURE_PLAINTEXT: 'true',
    },
    cwd: dir,
    sql,
    log: createLogger('silent'),
    print: () => undefined,
    notifier: 'postgres',
    migrationLeaseMs: options.migrationLeaseMs,
  });
  return {
    controller,
    close: async () => {
      await controller.close();
      await sql.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
