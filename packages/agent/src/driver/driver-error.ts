/**
 * A driver's refusal, in the words the controller receives as CommandError: `code` is libvirt's error
 * code name without its `VIR_ERR_` prefix (e.g. `OPERATION_INVALID`) when the hypervisor refused, else
 * one of the agent's own codes; `message` is the hypervisor's own words.
 */
export class DriverError extends Error {
  override readonly name = 'DriverError';
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The agent's own codes (next to libvirt's error code names). */
export const VM_NOT_FOUND = 'vm_not_found';
/** The hypervisor cannot be reached right now (the driver is reconnecting). */
export const HYPERVISOR_UNAVAILABLE = 'hypervisor_unavailable';
export const UNSUPPORTED = 'unsupported';

export const isDriverError = (err: unknown): err is DriverError => err instanceof DriverError;
export const isVmNotFound = (err: unknown): boolean => isDriverError(err) && err.code === VM_NOT_FOUND;
