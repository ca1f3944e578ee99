import type { Sql } from './sql.ts';

export const VM_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;
export type VmState = (typeof VM_STATES)[number];

/** A VM as the API shows it; `id` is the libvirt domain UUID. */
export interface VmView {
  id: string;
  host_id: string;
  name: string;
  state: VmState;
  vcpus: number;
  memory_mib: number;
  updated_at: string;
}

/** What the query returns: the view before `updated_at` becomes an ISO string. */
type VmRow = Omit<VmView, 'updated_at'> & { updated_at: Date };

export interface VmFilter {
  hostId?: string;
  state?: VmState;
}

export async function listVms(sql: Sql, filter: VmFilter = {}): Promise<VmView[]> {
  const rows = await sql<VmRow[]>`
    SELECT id, host_id, name, state, vcpus, memory_mib, updated_at
    FROM vms
    WHERE (${filter.hostId ?? null}::uuid IS NULL OR host_id = ${filter.hostId ?? null}::uuid)
      AND (${filter.state ?? null}::text IS NULL OR state = ${filter.state ?? null}::text)
    ORDER BY name, id`;
  return rows.map((r) => ({ ...r, updated_at: r.updated_at.toISOString() }));
}
