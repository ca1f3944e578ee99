import type { HypervisorDriver } from '../driver/driver.ts';
import { DriverError, UNSUPPORTED } from '../driver/driver-error.ts';
import { INVALID_REQUEST, type MigrationDriver } from '../driver/migration-driver.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The driver's migration support, or the refusal of a driver that has none. */
export function migrationDriverOf(driver: HypervisorDriver, migrationId: string): MigrationDriver {
  if (driver.migration === undefined) {
    throw new DriverError(
      UNSUPPORTED,
      `this hypervisor driver does not migrate VMs (migration ${migrationId})`,
    );
  }
  return driver.migration;
}

/** A command's VM id as the drivers use it (lower case), or INVALID_REQUEST. */
export function vmIdOf(vmId: string): string {
  if (!UUID.test(vmId)) throw new DriverError(INVALID_REQUEST, `'${vmId}' is not a VM id (a UUID)`);
  return vmId.toLowerCase();
}
