import { Command } from '@cockpit/proto';
import type { Sql, Tx } from '../database/sql.ts';
import type { CommandStatus } from './command-schema.ts';

// The commands table. A command row is written before it is sent; its payload is the wire Command
// (proto JSON), so what is re-sent after a reconnect is exactly what was sent first.

export interface CommandRow {
  id: string;
  host_id: string;
  operation_id: string | null;
  kind: string;
  status: CommandStatus;
}

export async function insertCommand(
  tx: Tx,
  input: { command: Command; hostId: string; operationId: string | null; now: Date },
): Promise<void> {
  const { command } = input;
  await tx`
    insert into commands (id, host_id, operation_id, kind, payload, status, deadline_at, created_at)
    values (${command.commandId}, ${input.hostId}, ${input.operationId}, ${command.action?.$case ?? 'unknown'},
            ${JSON.stringify(Command.toJSON(command))}::text::jsonb, 'pending', ${new Date(command.deadlineMs)},
            ${input.now})`;
}

const commandOf = (payload: unknown): Command => Command.fromJSON(payload);

/**
 * Claims one pending command of a host for sending (pending → sent). Null when it is not pending any
 * more (already sent by another path, finished or expired) or not this host's.
 */
export async function claimCommand(
  sql: Sql,
  input: { id: string; hostId: string; now: Date },
): Promise<Command | null> {
  const rows = await sql<{ payload: unknown }[]>`
    update commands set status = 'sent', sent_at = ${input.now}
    where id = ${input.id} and host_id = ${input.hostId} and status = 'pending' and deadline_at > ${input.now}
    returning payload`;
  return rows[0] === undefined ? null : commandOf(rows[0].payload);
}

/**
 * Every unfinished command of a host, oldest first, for a stream that just took the host: pending ones
 * become sent; sent and running ones are sent again (the agent answers a known id from its record and
 * never runs it twice).
 */
export async function claimUnfinishedCommands(
  sql: Sql,
  input: { hostId: string; now: Date },
): Promise<Command[]> {
  const rows = await sql<{ payload: unknown }[]>`
    with resend as (
      select id from commands
      where host_id = ${input.hostId} and status in ('pending', 'sent', 'running')
        and (status <> 'pending' or deadline_at > ${input.now})
    ),
    claimed as (
      update commands c set status = case when c.status = 'pending' then 'sent' else c.status end,
                            sent_at = coalesce(c.sent_at, ${input.now})
      from resend r where c.id = r.id
      returning c.id, c.payload
    )
    select payload from claimed order by id`;
  return rows.map((r) => commandOf(r.payload));
}

/** The agent accepted a command (or reports it running): pending/sent → running. */
export async function markCommandRunning(
  tx: Tx,
  input: { id: string; hostId: string },
): Promise<CommandRow | null> {
  const rows = await tx<CommandRow[]>`
    update commands set status = 'running'
    where id = ${input.id} and host_id = ${input.hostId} and status in ('pending', 'sent', 'running')
    returning id, host_id, operation_id, kind, status`;
  return rows[0] ?? null;
}

/** The final outcome, applied once: only an unfinished command takes it. Null when it was already final. */
export async function finishCommand(
  tx: Tx,
  input: {
    id: string;
    hostId: string;
    status: 'succeeded' | 'failed';
    error?: { code: string; message: string };
    result?: unknown;
    now: Date;
  },
): Promise<CommandRow | null> {
  const rows = await tx<CommandRow[]>`
    update commands set status = ${input.status}, error_code = ${input.error?.code ?? null},
                        error_message = ${input.error?.message ?? null},
                        result = ${input.result === undefined ? null : JSON.stringify(input.result)}::text::jsonb,
                        finished_at = ${input.now}
    where id = ${input.id} and host_id = ${input.hostId} and status in ('pending', 'sent', 'running')
    returning id, host_id, operation_id, kind, status`;
  return rows[0] ?? null;
}

/**
 * Ends the unfinished commands of the VM's unfinished operations of `kinds` as cancelled, wherever they
 * stand (an agent that runs one anyway is ignored when it answers). Returns their operations' ids. The
 * command rows are locked before the operation rows, in the order an agent's answer locks them.
 */
export async function cancelCommandsOfVmOperations(
  tx: Tx,
  input: { vmId: string; kinds: readonly string[]; error: { code: string; message: string }; now: Date },
): Promise<string[]> {
  const rows = await tx<Array<{ operation_id: string }>>`
    update commands set status = 'cancelled', finished_at = ${input.now},
                        error_code = ${input.error.code}, error_message = ${input.error.message}
    where status in ('pending', 'sent', 'running')
      and operation_id in (select id from operations
                           where vm_id = ${input.vmId} and kind = any(${input.kinds as string[]})
                             and status in ('pending', 'running'))
    returning operation_id`;
  return [...new Set(rows.map((r) => r.operation_id))];
}

/**
 * Withdraws a command that was never delivered (pending → cancelled), atomically: false when it was
 * claimed for sending meanwhile (then the agent hears of it and must be told otherwise).
 */
export async function withdrawPendingCommand(
  tx: Tx,
  input: { id: string; reason: string; now: Date },
): Promise<boolean> {
  const rows = await tx`
    update commands set status = 'cancelled', finished_at = ${input.now},
                        error_code = 'cancelled', error_message = ${input.reason}
    where id = ${input.id} and status = 'pending'
    returning id`;
  return rows.length === 1;
}

/**
 * Commands that can no longer run, or whose answer will never come: pending past their deadline (the
 * agent refuses to start a command past its deadline, so one not delivered by then never runs), or sent
 * and unanswered `graceMs` after it on a stream connected at least that long. A sent command may have
 * run with its answer lost when the stream broke, so while its host is away it stays sent: the next
 * stream gets it again and the agent answers from its record (or refuses it, past its deadline, unseen).
 * The grace covers an answer still in flight and clock skew. Returns the expired rows, with why.
 */
export async function expireOverdueCommands(
  tx: Tx,
  input: { now: Date; graceMs: number },
): Promise<Array<CommandRow & { error_message: string }>> {
  const sentBefore = new Date(input.now.getTime() - input.graceMs);
  return tx<Array<CommandRow & { error_message: string }>>`
    update commands set status = 'expired', finished_at = ${input.now},
                        error_code = 'deadline_exceeded',
                        error_message = case when status = 'pending'
                          then 'the host did not receive the command before its deadline (is its agent connected?)'
                          else 'the host’s agent did not answer the command by its deadline' end
    where (status = 'pending' and deadline_at <= ${input.now})
       or (status = 'sent' and deadline_at <= ${sentBefore}
           and exists (select 1 from hosts h where h.id = commands.host_id
                       and h.status = 'connected' and h.connected_at <= ${sentBefore}))
    returning id, host_id, operation_id, kind, status, error_message`;
}

/** Pending commands of the given hosts (the periodic safety net behind notifications). */
export async function pendingCommandIds(
  sql: Sql,
  hostIds: readonly string[],
): Promise<Array<{ id: string; host_id: string }>> {
  if (hostIds.length === 0) return [];
  return sql<{ id: string; host_id: string }[]>`
    select id, host_id from commands
    where host_id = any(${hostIds as string[]}::uuid[]) and status = 'pending'
    order by id`;
}

/** A command as a coordinator reads it: where it stands, how it ended, what it answered. */
export interface CommandOutcome {
  id: string;
  status: CommandStatus;
  error_code: string | null;
  error_message: string | null;
  result: Record<string, unknown> | null;
  finished_at: Date | null;
}

export async function findCommands(
  tx: Sql | Tx,
  ids: readonly string[],
): Promise<Map<string, CommandOutcome>> {
  if (ids.length === 0) return new Map();
  const rows = await tx<CommandOutcome[]>`
    select id, status, error_code, error_message, result, finished_at from commands where id = any(${ids as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r]));
}
