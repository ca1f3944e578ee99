import type { Sql, Tx } from '../database/sql.ts';
import type { VmState, VmView } from './vm-schema.ts';

// The vms table. Queries return VMs as the API shows them (VmView).

/** What the query returns: the view before `updated_at` becomes an ISO string. */
type VmRow = Omit<VmView, 'updated_at'> & { updated_at: Date };

const toView = (r: VmRow): VmView => ({ ...r, updated_at: r.updated_at.toISOString() });

export interface VmFilter {
  hostId?: string;
  state?: VmState;
}

export async function listVms(sql: Sql | Tx, filter: VmFilter = {}): Promise<VmView[]> {
  const rows = await sql<VmRow[]>`
    select id, host_id, name, state, vcpus, memory_mib, updated_at
    from vms
    where (${filter.hostId ?? null}::uuid is null or host_id = ${filter.hostId ?? null}::uuid)
      and (${filter.state ?? null}::text is null or state = ${filter.state ?? null}::text)
    order by name, id`;
  return rows.map(toView);
}
