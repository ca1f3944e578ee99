import type { MigrationAbandon, MigrationPrepare, MigrationPrepared } from '@cockpit/proto';
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
 * When it never does (the migration failed or was cancelled), the images the prepare created go.
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
    const { createdImages } = await driver.prepareIncoming({
      migrationId: step.migrationId,
      vmId,
      vmName: step.vmName,
      copyStorage: step.copyStorage,
      disks: step.disks,
    });
    this.options.log.info(
      {
        migrationId: step.migrationId,
        vmId,
        copyStorage: step.copyStorage,
        disks: step.disks.length,
        createdImages,
      },
      'ready to receive a migration',
    );
    return { connectUri: migrationUri, migrateUri: '', createdImages };
  }

  /**
   * The migration ended without the VM arriving: removes the images its prepare created. `prepared` is
   * this agent's own record of that prepare's answer (undefined when it has none: another agent's, or
   * forgotten), so only images this agent created are ever removed.
   */
  async abandon(step: MigrationAbandon, prepared: MigrationPrepared | undefined): Promise<void> {
    const createdImages = prepared?.createdImages ?? [];
    if (createdImages.length === 0) return;
    const driver = migrationDriverOf(this.options.driver, step.migrationId);
    await driver.abandonIncoming({ migrationId: step.migrationId, vmId: vmIdOf(step.vmId), createdImages });
  }
}
