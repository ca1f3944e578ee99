import { randomUUID } from 'node:crypto';
import type { MigrationProgress } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import type { HypervisorDriver } from '../driver/driver.ts';
import { DriverError } from '../driver/driver-error.ts';
import type { MigrationDriver, MigrationJob } from '../driver/migration-driver.ts';
import { createLogger } from '../log/logger.ts';
import { MigrationSource } from './migration-source.ts';

// A cancel for a migration this process does not follow (started before an agent restart) acts on the
// hypervisor's job for the VM; its answer says how that job ended. (With real libvirtd:
// test/migration-libvirt.test.ts, "after a source agent restart, cancel still aborts …".)

/** A hypervisor whose one running job for the VM ends as `end` says once it is aborted. */
function adoptedJob(end: 'completed' | 'aborted') {
  let settle: (how: 'completed' | 'aborted') => void = () => undefined;
  const ended = new Promise<'completed' | 'aborted'>((resolve) => {
    settle = resolve;
  });
  const job: MigrationJob = {
    finished: ended.then((how): MigrationProgress | undefined => {
      if (how === 'aborted') throw new DriverError('OPERATION_ABORTED', "job 'migration out' canceled");
      return undefined;
    }),
    progress: async () => undefined,
    // The switch-over was already under way: the migration completes all the same.
    abort: async () => settle(end),
    startPostCopy: async () => undefined,
  };
  const migration = { runningJob: async () => job } as Partial<MigrationDriver> as MigrationDriver;
  return new MigrationSource({
    driver: { migration } as Partial<HypervisorDriver> as HypervisorDriver,
    log: createLogger('silent'),
  });
}

const cancelOf = (source: MigrationSource) =>
  source.cancel({ migrationId: randomUUID(), vmId: randomUUID().toUpperCase() });

describe('cancel of a migration started before the agent restarted', () => {
  it('succeeds when the job ended aborted: the VM stayed here', async () => {
    await expect(cancelOf(adoptedJob('aborted'))).resolves.toBeUndefined();
  });

  it('fails "migration_completed" when the job completed all the same: the VM left', async () => {
    await expect(cancelOf(adoptedJob('completed'))).rejects.toMatchObject({
      code: 'migration_completed',
      message: 'the migration completed before the cancel took effect',
    });
  });
});
