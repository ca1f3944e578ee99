import type { Sql, Tx } from '../database/sql.ts';
import type { VmRecord } from '../vms/vm-record.ts';
import type {
  MigrationOptions,
  MigrationProgressView,
  MigrationStatus,
  MigrationView,
} from './migration-schema.ts';

// The migrations table. Each migration's row is also an operation's (same id, kind vm.migrate); the
// coordinator writes both in one transaction (migration-steps.ts).

export interface MigrationRow extends MigrationOptions {
  id: string;
  vm_id: string;
  vm_name: string;
  vm_state: string;
  source_host_id: string | null;
  destination_host_id: string | null;
  status: MigrationStatus;
  progress: MigrationProgressView | null;
  error_code: string | null;
  error_message: string | null;
  requested_by: string | null;
  prepare_command_id: string | null;
  perform_command_id: string | null;
  cancel_command_id: string | null;
  force_complete_command_id: string | null;
  connect_uri: string | null;
  migrate_uri: string | null;
  cancel_requested_at: Date | null;
  force_complete_requested_at: Date | null;
  destination_record: VmRecord | null;
  destination_seen_at: Date | null;
  source_removed_at: Date | null;
  coordinator: string | null;
  lease_epoch: string;
  lease_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export const toMigrationView = (r: MigrationRow): MigrationView => ({
  id: r.id,
  vm_id: r.vm_id,
  vm_name: r.vm_name,
  source_host_id: r.source_host_id,
  destination_host_id: r.destination_host_id,
  status: r.status,
  live: r.live,
  persistent: r.persistent,
  undefine_source: r.undefine_source,
  copy_storage: r.copy_storage,
  bandwidth_mibps: Number(r.bandwidth_mibps),
  max_downtime_ms: Number(r.max_downtime_ms),
  auto_converge: r.auto_converge,
  compression: r.compression,
  allow_post_copy: r.allow_post_copy,
  completion_timeout_s: r.completion_timeout_s,
  progress: r.progress,
  error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
  cancel_requested_at: r.cancel_requested_at?.toISOString() ?? null,
  force_complete_requested_at: r.force_complete_requested_at?.toISOString() ?? null,
  requested_by: r.requested_by,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
  finished_at: r.finished_at?.toISOString() ?? null,
});

export async function insertMigration(
  tx: Tx,
  input: {
    id: string;
    vmId: string;
    vmName: string;
    vmState: string;
    sourceHostId: string;
    destinationHostId: string;
    options: MigrationOptions;
    requestedBy: string;
    now: Date;
  },
): Promise<MigrationRow> {
  const o = input.options;
  const rows = await tx<MigrationRow[]>`
    insert into migrations (id, vm_id, vm_name, vm_state, source_host_id, destination_host_id, status, live, persistent,
                            undefine_source, copy_storage, bandwidth_mibps, max_downtime_ms, auto_converge,
                            compression, allow_post_copy, completion_timeout_s, requested_by, created_at, updated_at)
    values (${input.id}, ${input.vmId}, ${input.vmName}, ${input.vmState}, ${input.sourceHostId}, ${input.destinationHostId},
            'initiated', ${o.live}, ${o.persistent}, ${o.undefine_source}, ${o.copy_storage}, ${o.bandwidth_mibps},
            ${o.max_downtime_ms}, ${o.auto_converge}, ${o.compression}, ${o.allow_post_copy},
            ${o.completion_timeout_s}, ${input.requestedBy}, ${input.now}, ${input.now})
    returning *`;
  return rows[0] as MigrationRow;
}

export async function findMigration(sql: Sql | Tx, id: string): Promise<MigrationRow | null> {
  const rows = await sql<MigrationRow[]>`select * from migrations where id = ${id}`;
  return rows[0] ?? null;
}

export interface MigrationFilter {
  vmId?: string;
  /** Source or destination. */
  hostId?: string;
  status?: MigrationStatus;
}

/** Newest first; `before` is the id of the last migration of the previous page (ids are UUIDv7). */
export async function listMigrations(
  sql: Sql,
  filter: MigrationFilter,
  page: { limit: number; before?: string },
): Promise<MigrationRow[]> {
  return sql<MigrationRow[]>`
    select * from migrations where true
      ${filter.vmId === undefined ? sql`` : sql`and vm_id = ${filter.vmId}`}
      ${
        filter.hostId === undefined
          ? sql``
          : sql`and (source_host_id = ${filter.hostId} or destination_host_id = ${filter.hostId})`
      }
      ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
      ${page.before === undefined ? sql`` : sql`and id < ${page.before}`}
    order by id desc
    limit ${page.limit}`;
}

/** Records a cancel or force-complete request on an unfinished migration; null when it is not one. */
export async function requestOnMigration(
  tx: Tx,
  id: string,
  what: 'cancel' | 'force_complete',
  now: Date,
): Promise<MigrationRow | null> {
  const rows =
    what === 'cancel'
      ? await tx<MigrationRow[]>`
          update migrations set cancel_requested_at = coalesce(cancel_requested_at, ${now}), updated_at = ${now}
          where id = ${id} and status in ('initiated', 'preparing', 'migrating') returning *`
      : await tx<MigrationRow[]>`
          update migrations
          set force_complete_requested_at = coalesce(force_complete_requested_at, ${now}), updated_at = ${now}
          where id = ${id} and status = 'migrating' and allow_post_copy and cancel_requested_at is null
          returning *`;
  return rows[0] ?? null;
}

/**
 * Takes the lease of a migration nobody holds (or whose holder let it expire) or renews this replica's
 * own: a takeover adds one to the epoch. Returns the epoch held, or null.
 */
export async function claimLease(
  sql: Sql,
  input: { id: string; replica: string; now: Date; leaseMs: number },
): Promise<number | null> {
  const until = new Date(input.now.getTime() + input.leaseMs);
  const rows = await sql<{ lease_epoch: string }[]>`
    update migrations set
      lease_epoch = case when coordinator = ${input.replica} then lease_epoch else lease_epoch + 1 end,
      coordinator = ${input.replica}, lease_expires_at = ${until}
    where id = ${input.id} and status in ('initiated', 'preparing', 'migrating')
      and (coordinator is null or coordinator = ${input.replica} or lease_expires_at <= ${input.now})
    returning lease_epoch`;
  return rows[0] === undefined ? null : Number(rows[0].lease_epoch);
}

/** Unfinished migrations nobody holds a live lease on, oldest first. */
export async function orphanedMigrationIds(sql: Sql, now: Date): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from migrations
    where status in ('initiated', 'preparing', 'migrating')
      and (coordinator is null or lease_expires_at <= ${now})
    order by id limit 100`;
  return rows.map((r) => r.id);
}

/** Renews every lease this replica holds at these epochs; returns the ids still held. */
export async function renewLeases(
  sql: Sql,
  input: { held: ReadonlyArray<{ id: string; epoch: number }>; replica: string; now: Date; leaseMs: number },
): Promise<string[]> {
  if (input.held.length === 0) return [];
  const until = new Date(input.now.getTime() + input.leaseMs);
  const rows = await sql<{ id: string }[]>`
    update migrations m set lease_expires_at = ${until}
    from unnest(${input.held.map((h) => h.id)}::uuid[], ${input.held.map((h) => h.epoch)}::bigint[]) as h (id, epoch)
    where m.id = h.id and m.lease_epoch = h.epoch and m.coordinator = ${input.replica}
      and m.status in ('initiated', 'preparing', 'migrating')
    returning m.id`;
  return rows.map((r) => r.id);
}

/** Gives up this replica's leases at once (a clean stop): another replica takes over without waiting. */
export async function releaseLeases(sql: Sql, input: { replica: string; now: Date }): Promise<void> {
  await sql`
    update migrations set lease_expires_at = ${input.now}
    where coordinator = ${input.replica} and status in ('initiated', 'preparing', 'migrating')`;
}

/**
 * The row, locked for the step, when this replica still holds its lease at `epoch`; null when another
 * replica took over (the caller stops driving it).
 */
export async function lockHeld(
  tx: Tx,
  input: { id: string; replica: string; epoch: number },
): Promise<MigrationRow | null> {
  const rows = await tx<MigrationRow[]>`
    select * from migrations
    where id = ${input.id} and coordinator = ${input.replica} and lease_epoch = ${input.epoch}
    for update`;
  return rows[0] ?? null;
}

/** Writes a step's changes to a row locked by lockHeld. */
export async function updateMigration(
  tx: Tx,
  id: string,
  set: Partial<
    Pick<
      MigrationRow,
      | 'status'
      | 'error_code'
      | 'error_message'
      | 'prepare_command_id'
      | 'perform_command_id'
      | 'cancel_command_id'
      | 'force_complete_command_id'
      | 'connect_uri'
      | 'migrate_uri'
    >
  >,
  now: Date,
): Promise<MigrationRow> {
  const final = set.status === 'completed' || set.status === 'failed' || set.status === 'cancelled';
  const values: Record<string, string | Date | null> = { ...set, updated_at: now };
  if (final) values.finished_at = now;
  const columns = Object.keys(values);
  const rows = await tx<MigrationRow[]>`
    update migrations set ${tx(values, columns)} where id = ${id} returning *`;
  return rows[0] as MigrationRow;
}

const jsonOrNull = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * Stores progress from the source's update of a migration's perform command, while it migrates. Returns
 * the migration's id, and whether a cancel or force-complete waits for the job to run (its coordinator
 * then has a command to send).
 */
export async function storeProgress(
  tx: Tx,
  input: { performCommandId: string; progress: MigrationProgressView; now: Date },
): Promise<{ id: string; requestWaiting: boolean } | null> {
  const rows = await tx<{ id: string; request_waiting: boolean }[]>`
    update migrations set progress = ${JSON.stringify(input.progress)}::text::jsonb, updated_at = ${input.now}
    where perform_command_id = ${input.performCommandId} and status = 'migrating'
    returning id, (cancel_requested_at is not null and cancel_command_id is null)
               or (force_complete_requested_at is not null and force_complete_command_id is null) as request_waiting`;
  const row = rows[0];
  return row === undefined ? null : { id: row.id, requestWaiting: row.request_waiting };
}

/** An unfinished migration of a VM, as the sync ingest needs it. */
export interface ActiveMigration {
  id: string;
  vm_id: string;
  source_host_id: string | null;
  destination_host_id: string | null;
}

export function activeMigrationsOf(tx: Tx, vmIds: readonly string[]): Promise<ActiveMigration[]> {
  if (vmIds.length === 0) return Promise.resolve([]);
  // Sent now (not when awaited), so it can be pipelined in order with the caller's other statements.
  return tx<ActiveMigration[]>`
    select id, vm_id, source_host_id, destination_host_id from migrations
    where vm_id = any(${vmIds as string[]}::uuid[]) and status in ('initiated', 'preparing', 'migrating')`.execute();
}

/** Unfinished migrations to or from any of these hosts (their snapshots must not remove those VMs). */
export function activeMigrationsOfHosts(tx: Tx, hostIds: readonly string[]): Promise<ActiveMigration[]> {
  if (hostIds.length === 0) return Promise.resolve([]);
  // Sent now (not when awaited): pipelined in order with the caller's other statements.
  return tx<ActiveMigration[]>`
    select id, vm_id, source_host_id, destination_host_id from migrations
    where (source_host_id = any(${hostIds as string[]}::uuid[]) or destination_host_id = any(${hostIds as string[]}::uuid[]))
      and status in ('initiated', 'preparing', 'migrating')`.execute();
}

/** Clears (or sets) what the destination reported; the coordinator clears it when the migration ends. */
export async function storeDestinationRecord(
  tx: Tx,
  input: { id: string; record: VmRecord | null; now: Date },
): Promise<void> {
  await tx`
    update migrations set destination_record = ${jsonOrNull(input.record)}::text::jsonb, updated_at = ${input.now}
    where id = ${input.id}`;
}

/** How many cancels the coordinator has sent to the source for this migration (retries included). */
export async function cancelsSent(tx: Tx, id: string): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from commands where operation_id = ${id} and kind = 'migrationCancel'`;
  return row?.n ?? 0;
}
