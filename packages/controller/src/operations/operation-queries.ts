import { recordChanges } from '../changes/change-queries.ts';
import type { Sql, Tx } from '../database/sql.ts';
import type { OperationKind, OperationStatus, OperationView } from './operation-schema.ts';

// The operations table. Queries return operations as the API shows them (OperationView); every write
// also appends its `changes` row.

interface OperationRow {
  id: string;
  kind: OperationKind;
  status: OperationStatus;
  vm_id: string | null;
  host_id: string | null;
  progress: Record<string, unknown> | null;
  error_code: string | null;
  error_message: string | null;
  requested_by: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toView = (r: OperationRow): OperationView => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  vm_id: r.vm_id,
  host_id: r.host_id,
  progress: r.progress,
  error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
  requested_by: r.requested_by,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
  finished_at: r.finished_at?.toISOString() ?? null,
});

const logged = async (tx: Tx, now: Date, view: OperationView): Promise<OperationView> => {
  await recordChanges(tx, now, [{ kind: 'operation', entityId: view.id, op: 'upsert', data: view }]);
  return view;
};

/**
 * Records a new pending operation; null when the VM already has an unfinished one (the partial unique
 * index decides, so of two concurrent requests exactly one gets through).
 */
export async function insertOperation(
  tx: Tx,
  input: { id: string; kind: OperationKind; vmId: string; hostId: string; requestedBy: string; now: Date },
): Promise<OperationView | null> {
  const rows = await tx<OperationRow[]>`
    insert into operations (id, kind, vm_id, host_id, status, requested_by, created_at, updated_at)
    values (${input.id}, ${input.kind}, ${input.vmId}, ${input.hostId}, 'pending', ${input.requestedBy},
            ${input.now}, ${input.now})
    on conflict (vm_id) where status in ('pending', 'running') and vm_id is not null do nothing
    returning *`;
  return rows[0] === undefined ? null : logged(tx, input.now, toView(rows[0]));
}

export async function findOperation(sql: Sql | Tx, id: string): Promise<OperationView | null> {
  const rows = await sql<OperationRow[]>`select * from operations where id = ${id}`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

export interface OperationFilter {
  vmId?: string;
  hostId?: string;
  status?: OperationStatus;
  kind?: OperationKind;
}

/** Newest first; `before` is the id of the last operation of the previous page (ids are UUIDv7). */
export async function listOperations(
  sql: Sql | Tx,
  filter: OperationFilter,
  page: { limit: number; before?: string },
): Promise<OperationView[]> {
  const rows = await sql<OperationRow[]>`
    select * from operations where true
      ${filter.vmId === undefined ? sql`` : sql`and vm_id = ${filter.vmId}`}
      ${filter.hostId === undefined ? sql`` : sql`and host_id = ${filter.hostId}`}
      ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
      ${filter.kind === undefined ? sql`` : sql`and kind = ${filter.kind}`}
      ${page.before === undefined ? sql`` : sql`and id < ${page.before}`}
    order by id desc
    limit ${page.limit}`;
  return rows.map(toView);
}

export interface OperationTransition {
  status: OperationStatus;
  error?: { code: string; message: string };
  progress?: Record<string, unknown>;
}

/**
 * Moves an unfinished operation on (a final one never changes again). Returns the view when it changed.
 */
export async function transitionOperation(
  tx: Tx,
  id: string,
  to: OperationTransition,
  now: Date,
): Promise<OperationView | null> {
  const final = to.status === 'succeeded' || to.status === 'failed' || to.status === 'cancelled';
  const rows = await tx<OperationRow[]>`
    update operations set
      status = ${to.status},
      error_code = ${to.error?.code ?? null}, error_message = ${to.error?.message ?? null},
      progress = coalesce(${to.progress === undefined ? null : JSON.stringify(to.progress)}::text::jsonb, progress),
      updated_at = ${now}, finished_at = ${final ? now : null}
    where id = ${id} and status in ('pending', 'running')
      and (status <> ${to.status} or ${to.progress !== undefined})
    returning *`;
  return rows[0] === undefined ? null : logged(tx, now, toView(rows[0]));
}

/** The unfinished operations of a host that is being deleted end as failed. Returns their ids. */
export async function failOperationsOfHost(
  tx: Tx,
  hostId: string,
  error: { code: string; message: string },
  now: Date,
): Promise<string[]> {
  const rows = await tx<OperationRow[]>`
    update operations set status = 'failed', error_code = ${error.code}, error_message = ${error.message},
                          updated_at = ${now}, finished_at = ${now}
    where host_id = ${hostId} and status in ('pending', 'running')
    returning *`;
  for (const row of rows) await logged(tx, now, toView(row));
  return rows.map((r) => r.id);
}
