import { type Vm, VmState } from '@cockpit/proto';
import { untilNotified } from '../until-notified.ts';

/** What the executor needs of the agent's own picture of its VMs: the journal, fed by the driver. */
export interface VmRecords {
  /** The last record of a VM (by its id in lower case); undefined once it is no longer on this host. */
  vmRecord(id: string): Vm | undefined;
  /** Calls `listener` after each change; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
}

/** Off: shut off, or gone from the host (a transient VM is undefined as it stops). */
const isOff = (vm: Vm | undefined) => vm === undefined || vm.state === VmState.VM_STATE_SHUT_OFF;

/**
 * Resolves true once the record of the VM says it is off; false when `timeoutMs` passes first or `signal`
 * aborts. The record follows libvirt's lifecycle events, with the periodic re-list behind them.
 */
export function waitForPowerOff(
  records: VmRecords,
  vmId: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<boolean> {
  const id = vmId.toLowerCase();
  return untilNotified(
    (wake) => records.onAppend(wake),
    () => isOff(records.vmRecord(id)),
    options,
  );
}
