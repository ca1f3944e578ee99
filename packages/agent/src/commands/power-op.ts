import { PowerOp } from '@cockpit/proto';
import type { PowerOperation } from '../driver/driver.ts';

const OPERATIONS: ReadonlyMap<PowerOp, PowerOperation> = new Map<PowerOp, PowerOperation>([
  [PowerOp.POWER_OP_START, 'start'],
  [PowerOp.POWER_OP_SHUTDOWN, 'shutdown'],
  [PowerOp.POWER_OP_DESTROY, 'destroy'],
  [PowerOp.POWER_OP_REBOOT, 'reboot'],
  [PowerOp.POWER_OP_RESET, 'reset'],
  [PowerOp.POWER_OP_SUSPEND, 'suspend'],
  [PowerOp.POWER_OP_RESUME, 'resume'],
]);

/** The driver's operation for a wire PowerOp; undefined for UNSPECIFIED or a value this agent doesn't know. */
export const powerOperationOf = (op: PowerOp): PowerOperation | undefined => OPERATIONS.get(op);
