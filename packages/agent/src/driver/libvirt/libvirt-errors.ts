import { isLibvirtError, isNoDomain, LibvirtClientError } from '@cockpit/libvirt';
import { DriverError, HYPERVISOR_UNAVAILABLE, VM_NOT_FOUND } from '../driver-error.ts';

/**
 * libvirt's refusal in the controller's terms: its error code name without `VIR_ERR_` and its own words;
 * an unknown domain is `vm_not_found`; a connection that is down or dropped during the call is
 * `hypervisor_unavailable` (the call's outcome is then unknown; the state stream will tell).
 */
export function toDriverError(err: unknown): DriverError {
  if (isNoDomain(err)) return new DriverError(VM_NOT_FOUND, (err as Error).message, { cause: err });
  if (isLibvirtError(err)) {
    return new DriverError(err.codeName.replace(/^VIR_ERR_/, ''), err.message, { cause: err });
  }
  if (err instanceof LibvirtClientError) {
    return new DriverError(HYPERVISOR_UNAVAILABLE, `libvirt connection: ${err.message}`, { cause: err });
  }
  return new DriverError('internal', err instanceof Error ? err.message : String(err), { cause: err });
}

/** True when `err` says the connection to libvirtd is gone (rather than one call failing). */
export const isConnectionLost = (err: unknown): boolean =>
  err instanceof LibvirtClientError &&
  ['INTERRUPTED', 'CLOSED', 'KEEPALIVE_TIMEOUT', 'DIAL'].includes(err.code);
