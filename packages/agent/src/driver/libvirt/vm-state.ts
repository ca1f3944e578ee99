import {
  VIR_DOMAIN_BLOCKED,
  VIR_DOMAIN_CRASHED,
  VIR_DOMAIN_NOSTATE,
  VIR_DOMAIN_PAUSED,
  VIR_DOMAIN_PMSUSPENDED,
  VIR_DOMAIN_RUNNING,
  VIR_DOMAIN_SHUTDOWN,
  VIR_DOMAIN_SHUTOFF,
} from '@cockpit/libvirt';
import { VmState } from '@cockpit/proto';

// libvirt's virDomainState → the wire's VmState.
const STATES = new Map<number, VmState>([
  [VIR_DOMAIN_NOSTATE, VmState.VM_STATE_NOSTATE],
  [VIR_DOMAIN_RUNNING, VmState.VM_STATE_RUNNING],
  [VIR_DOMAIN_BLOCKED, VmState.VM_STATE_BLOCKED],
  [VIR_DOMAIN_PAUSED, VmState.VM_STATE_PAUSED],
  [VIR_DOMAIN_SHUTDOWN, VmState.VM_STATE_SHUTDOWN],
  [VIR_DOMAIN_SHUTOFF, VmState.VM_STATE_SHUT_OFF],
  [VIR_DOMAIN_CRASHED, VmState.VM_STATE_CRASHED],
  [VIR_DOMAIN_PMSUSPENDED, VmState.VM_STATE_PMSUSPENDED],
]);

// Each state's reasons (virDomainRunningReason, virDomainPausedReason, …), indexed by their number, in
// libvirt's names without prefix, lower-case: VIR_DOMAIN_RUNNING_BOOTED → "booted".
const REASONS = new Map<number, readonly string[]>([
  [
    VIR_DOMAIN_RUNNING,
    [
      'unknown',
      'booted',
      'migrated',
      'restored',
      'from_snapshot',
      'unpaused',
      'migration_canceled',
      'save_canceled',
      'wakeup',
      'crashed',
      'postcopy',
      'postcopy_failed',
    ],
  ],
  [
    VIR_DOMAIN_PAUSED,
    [
      'unknown',
      'user',
      'migration',
      'save',
      'dump',
      'ioerror',
      'watchdog',
      'from_snapshot',
      'shutting_down',
      'snapshot',
      'crashed',
      'starting_up',
      'postcopy',
      'postcopy_failed',
    ],
  ],
  [VIR_DOMAIN_SHUTDOWN, ['unknown', 'user']],
  [
    VIR_DOMAIN_SHUTOFF,
    ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot', 'daemon'],
  ],
  [VIR_DOMAIN_CRASHED, ['unknown', 'panicked']],
]);

export const vmStateOf = (state: number): VmState => STATES.get(state) ?? VmState.VM_STATE_NOSTATE;

/** libvirt's reason for a state in snake_case; a number this table does not know stays visible as `reason_<n>`. */
export function stateReasonOf(state: number, reason: number): string {
  if (reason === 0) return 'unknown';
  return REASONS.get(state)?.[reason] ?? `reason_${reason}`;
}
