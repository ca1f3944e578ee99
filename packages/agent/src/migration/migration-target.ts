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
  /**
   * Each disk path's latest successful prepare (its migration id). A retry of a failed migration finds the
   * images the first one created and copies into them: the first one's abandon, arriving late, must not
   * remove them. (In memory: after a restart an abandon still checks the VM is not here and no domain uses
   * an image.)
   */
  private readonly claims = new Map<string, string>();

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
    for (const disk of step.disks) this.claims.set(disk.path, step.migrationId);
    return { connectUri: migrationUri, migrateUri: '', createdImages };
  }

  /**
   * The migration ended without the VM arriving: removes the images its prepare created. `prepared` is
   * this agent's own record of that prepare's answer (undefined when it has none: another agent's, or
   * forgotten), so only images this agent created are ever removed.
   */
  async abandon(step: MigrationAbandon, prepared: MigrationPrepared | undefined): Promise<void> {
    const ours = (path: string) => (this.claims.get(path) ?? step.migrationId) === step.migrationId;
    const createdImages = (prepared?.createdImages ?? []).filter((path) => {
      if (ours(path)) return true;
      this.options.log.info(
        { migrationId: step.migrationId, path, claimedBy: this.claims.get(path) },
        'migration abandoned: a later prepare readied one of its images; keeping it',
      );
      return false;
    });
    for (const path of createdImages) this.claims.delete(path);
    if (createdImages.length === 0) return;
    const driver = migrationDriverOf(this.options.driver, step.migrationId);
    await driver.abandonIncoming({ migrationId: step.migrationId, vmId: vmIdOf(step.vmId), createdImages });
  }
}
