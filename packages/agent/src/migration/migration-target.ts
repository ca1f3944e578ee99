import type { MigrationPrepare, MigrationPrepared } from '@cockpit/proto';
import type { Logger } from 'pino';
import type { HypervisorDriver } from '../driver/driver.ts';
import { DriverError } from '../driver/driver-error.ts';
import { NOT_A_MIGRATION_TARGET } from '../driver/migration-driver.ts';
import { migrationDriverOf, vmIdOf } from './migration-checks.ts';

export interface MigrationTargetOptions {
  driver: HypervisorDriver;
  /** The URI under which other hosts' hypervisors reach this one, read when asked; empty: none. */
  migrationUri: () => string;
  log: Logger;
}

/**
 * The destination side of a live migration: checks this host can take the VM, readies the disk images
 * a storage copy writes into, and tells the coordinator the URI the source's libvirtd connects to. The
 * VM itself then arrives through the hypervisor, and the state stream reports it like any other change.
 */
export class MigrationTarget {
  constructor(private readonly options: MigrationTargetOptions) {}

  async prepare(step: MigrationPrepare): Promise<MigrationPrepared> {
    const driver = migrationDriverOf(this.options.driver, step.migrationId);
    const migrationUri = this.options.migrationUri();
    if (migrationUri === '') {
      throw new DriverError(
        NOT_A_MIGRATION_TARGET,
        'this agent has no migration URI (--migration-uri): other hosts cannot reach its hypervisor',
      );
    }
    const vmId = vmIdOf(step.vmId);
    await driver.prepareIncoming({
      migrationId: step.migrationId,
      vmId,
      vmName: step.vmName,
      copyStorage: step.copyStorage,
      disks: step.disks,
    });
    this.options.log.info(
      { migrationId: step.migrationId, vmId, copyStorage: step.copyStorage, disks: step.disks.length },
      'ready to receive a migration',
    );
    return { connectUri: migrationUri, migrateUri: '' };
  }
}
