import { PowerOp } from '@cockpit/proto';
import type { OperationKind } from '../operations/operation-schema.ts';
import { ServiceError } from '../service-error.ts';
import type { VmState } from './vm-schema.ts';

/** The actions of `POST /api/v1/vms/:id/action` (the seed's `start` and `stop` with `force`, and more). */
export const VM_ACTIONS = ['start', 'stop', 'restart', 'pause', 'resume'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

/**
 * How long a graceful stop or restart waits for the guest unless the request says: Proxmox's default for
 * stopping guests in bulk. (Nova waits 60 s, then pulls the plug; Incus waits as long as it is told.)
 */
export const DEFAULT_GRACEFUL_TIMEOUT_S = 180;
export const MAX_GRACEFUL_TIMEOUT_S = 3600;

export interface PowerRequest {
  action: VmAction;
  /** stop: pull the plug instead of a graceful shutdown; restart: reset instead of reboot. */
  force: boolean;
  /**
   * Graceful stop and restart: how long the guest has to power off, or reboot, before the operation fails
   * (the VM is then left as it is).
   */
  timeout_s?: number;
  /** Graceful stop and restart: when the guest has not done it within `timeout_s`, pull the plug or reset it. */
  force_after_timeout?: boolean;
}

/** The operations a forced action overrules when they still wait for the guest (Proxmox's overrule-shutdown). */
export const OVERRULES: Partial<Record<OperationKind, OperationKind[]>> = {
  'vm.force_stop': ['vm.stop', 'vm.restart'],
  'vm.reset': ['vm.restart'],
};

interface Plan {
  kind: OperationKind;
  op: PowerOp;
  /** A graceful stop's or restart's wait for the guest; 0 for the others. */
  timeoutS: number;
  /** Past `timeoutS`, the forced action instead of a failure. */
  forceAfterTimeout: boolean;
}

const ACTIVE: ReadonlySet<VmState> = new Set([
  'running',
  'blocked',
  'paused',
  'shutdown',
  'pmsuspended',
  'crashed',
]);
const INACTIVE: ReadonlySet<VmState> = new Set(['shut_off', 'nostate']);

const plan = (kind: OperationKind, op: PowerOp): Plan => ({
  kind,
  op,
  timeoutS: 0,
  forceAfterTimeout: false,
});

/**
 * What a request becomes on the wire (the agent maps PowerOp to libvirt: start → create, stop →
 * shutdown or destroy, restart → reboot or reset, pause → suspend, resume → resume), and whether the
 * VM's last known state allows it. A refusal names the state in its code (each a 409).
 */
export function planPowerAction(request: PowerRequest, state: VmState): Plan {
  const refuse = (code: 'vm_not_running' | 'vm_already_running' | 'vm_not_paused' | 'vm_already_paused') =>
    new ServiceError(code, `cannot ${request.action} a VM that is ${state.replace('_', ' ')}`);
  const graceful = (kind: OperationKind, op: PowerOp): Plan => {
    // A paused guest cannot answer the power button: a graceful stop or restart could only run out its
    // timeout (Proxmox refuses them too). Nor can a crashed one (kept for a dump) or one suspended to RAM.
    if (state === 'paused') {
      throw new ServiceError(
        'vm_paused',
        `cannot ${request.action} a paused VM gracefully: its guest cannot answer the power button; resume it first, or ${request.action} it with force`,
      );
    }
    if (state === 'crashed' || state === 'pmsuspended') {
      throw new ServiceError(
        'vm_not_running',
        `cannot ${request.action} a ${state === 'crashed' ? 'crashed' : 'suspended (to RAM)'} VM gracefully: its guest does not run to answer the power button; ${request.action} it with force`,
      );
    }
    return {
      kind,
      op,
      timeoutS: request.timeout_s ?? DEFAULT_GRACEFUL_TIMEOUT_S,
      forceAfterTimeout: request.force_after_timeout ?? false,
    };
  };
  switch (request.action) {
    case 'start':
      if (!INACTIVE.has(state) && state !== 'crashed') throw refuse('vm_already_running');
      return plan('vm.start', PowerOp.POWER_OP_START);
    case 'stop':
      if (!ACTIVE.has(state)) throw refuse('vm_not_running');
      return request.force
        ? plan('vm.force_stop', PowerOp.POWER_OP_DESTROY)
        : graceful('vm.stop', PowerOp.POWER_OP_SHUTDOWN);
    case 'restart':
      if (!ACTIVE.has(state) || state === 'crashed') throw refuse('vm_not_running');
      return request.force
        ? plan('vm.reset', PowerOp.POWER_OP_RESET)
        : graceful('vm.restart', PowerOp.POWER_OP_REBOOT);
    case 'pause':
      if (state === 'paused') throw refuse('vm_already_paused');
      if (state !== 'running' && state !== 'blocked') throw refuse('vm_not_running');
      return plan('vm.pause', PowerOp.POWER_OP_SUSPEND);
    case 'resume':
      if (state !== 'paused') throw refuse('vm_not_paused');
      return plan('vm.resume', PowerOp.POWER_OP_RESUME);
  }
}
