import type { MigrationPrepare, MigrationPrepared } from '@cockpit/proto';
import { DriverError, UNSUPPORTED } from '../driver/driver-error.ts';

/**
 * The destination side of a live migration: gets ready to receive a VM and tells the controller the
 * libvirt URI the source's libvirtd connects to. This version of the agent does not receive migrations:
 * prepare answers FAILED with code "unsupported".
 */
export class MigrationTarget {
  async prepare(step: MigrationPrepare): Promise<MigrationPrepared> {
    throw new DriverError(
      UNSUPPORTED,
      `this agent version does not receive live migrations (migration ${step.migrationId})`,
    );
  }
}
