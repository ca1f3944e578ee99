import type { Sql, Tx } from '../database/sql.ts';
import type { VmState, VmView } from './vm-schema.ts';

// Reads of the vms table, as the API shows VMs: joined with the host (stale when its agent is not
// connected; confirmed as of the host's last sign of life) and with the conflicts table.

interface VmRow {
  id: string;
  host_id: string;
  name: string;
  state: VmState;
  state_reason: string;
  vcpus: number;
  memory_mib: number;
  max_memory_mib: number | null;
  persistent: boolean;
  autostart: boolean;
  stale: boolean;
  confirmed_at: Date | null;
  conflict_host_ids: string[] | null;
  updated_at: Date;
}

const toView = (r: VmRow): VmView => ({
  id: r.id,
  host_id: r.host_id,
  name: r.name,
  state: r.state,
  state_reason: r.state_reason,
  vcpus: r.vcpus,
  memory_mib: r.memory_mib,
  max_memory_mib: r.max_memory_mib,
  persistent: r.persistent,
  autostart: r.autostart,
  stale: r.stale,
  confirmed_at: r.confirmed_at?.toISOString() ?? null,
  conflict: r.conflict_host_ids === null ? null : { host_ids: r.conflict_host_ids },
  updated_at: r.updated_at.toISOString(),
});

// While the stream is up every record is confirmed as of the host's last sign of life (the agent would
// have sent a change otherwise); after it dropped, as of the last one.
const SELECT = `
  select v.id, v.host_id, v.name, v.state, v.state_reason, v.vcpus, v.memory_mib, v.max_memory_mib,
         v.persistent, v.autostart, h.status <> 'connected' as stale,
         greatest(v.confirmed_at, h.last_seen_at) as confirmed_at, v.updated_at,
         (select array_agg(c.host_id order by c.host_id) from vm_conflicts c where c.vm_id = v.id)
           as conflict_host_ids
  from vms v join hosts h on h.id = v.host_id`;

export interface VmFilter {
  hostId?: string;
  state?: VmState;
  name?: string;
}

/** Where the previous page ended, in the list's order (name by code point, as "C" collates, then id). */
export interface VmPosition {
  name: string;
  id: string;
}

export async function listVms(
  sql: Sql | Tx,
  filter: VmFilter = {},
  page: { limit: number; after?: VmPosition } = { limit: 100 },
): Promise<VmView[]> {
  const after = page.after;
  const rows = await sql<VmRow[]>`
    ${sql.unsafe(SELECT)}
    where true
      ${filter.hostId === undefined ? sql`` : sql`and v.host_id = ${filter.hostId}`}
      ${filter.state === undefined ? sql`` : sql`and v.state = ${filter.state}`}
      ${filter.name === undefined ? sql`` : sql`and v.name = ${filter.name}`}
      ${after === undefined ? sql`` : sql`and (v.name collate "C", v.id) > (${after.name}, ${after.id}::uuid)`}
    order by v.name collate "C", v.id
    limit ${page.limit}`;
  return rows.map(toView);
}

export async function findVm(sql: Sql | Tx, id: string): Promise<VmView | null> {
  const rows = await sql<VmRow[]>`${sql.unsafe(SELECT)} where v.id = ${id}`;
  return rows[0] === undefined ? null : toView(rows[0]);
}

/**
 * Whether the VM is still on `hostId`, its row share-locked until the transaction ends: an operation
 * decided on the VM as read before it started is written only while the VM stays there (a migration
 * that completed meanwhile moved it, and no longer held the VM's one active operation).
 */
export async function stillOnHost(tx: Tx, vmId: string, hostId: string): Promise<boolean> {
  const rows = await tx`select 1 from vms where id = ${vmId} and host_id = ${hostId} for share`;
  return rows.length === 1;
}
