import type { MigrationCancel, MigrationForceComplete, MigrationPerform } from '@cockpit/proto';
import { DriverError, UNSUPPORTED } from '../driver/driver-error.ts';

/**
 * The source side of a live migration: runs the peer-to-peer migration the controller's coordinator
 * asks for and reports its progress. This version of the agent does not migrate: every step answers
 * FAILED with code "unsupported", which the controller shows as such.
 */
export class MigrationSource {
  async perform(step: MigrationPerform): Promise<void> {
    throw refusal(step.migrationId);
  }

  async cancel(step: MigrationCancel): Promise<void> {
    throw refusal(step.migrationId);
  }

  async forceComplete(step: MigrationForceComplete): Promise<void> {
    throw refusal(step.migrationId);
  }
}

const refusal = (migrationId: string) =>
  new DriverError(
    UNSUPPORTED,
    `this agent version does not perform live migrations (migration ${migrationId})`,
  );
