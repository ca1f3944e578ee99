/**
 * Where a command row stands. pending: written, not yet handed to a stream; sent: written to the
 * host's stream; running: the agent accepted it; then one of the final four. `expired`: it could not be
 * delivered before its deadline (the agent never starts a command past it). The `commands.status`
 * CHECK lists the same values (src/database/check-constraints.test.ts holds them together).
 */
export const COMMAND_STATUSES = [
  'pending',
  'sent',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export const UNFINISHED_COMMAND_STATUSES = [
  'pending',
  'sent',
  'running',
] as const satisfies readonly CommandStatus[];
