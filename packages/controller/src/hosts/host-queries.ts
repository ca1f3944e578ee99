import type { Sql, Tx } from '../database/sql.ts';
import type { HostStatus, HostView } from './host-schema.ts';

// The hosts table. Queries return hosts as the API shows them (HostView).

interface HostRow {
  id: string;
  hostname: string;
  status: HostStatus;
  sync_cursor: string;
  cpus: number | null;
  memory_mib: string | null;
  last_seen_at: Date | null;
  created_at: Date;
}

// bigint columns arrive as strings; cursors and sizes stay far below 2^53, so JSON numbers are exact.
const toView = (r: HostRow): HostView => ({
  id: r.id,
  hostname: r.hostname,
  status: r.status,
  sync_cursor: Number(r.sync_cursor),
  cpus: r.cpus,
  memory_mib: r.memory_mib === null ? null : Number(r.memory_mib),
  last_seen_at: r.last_seen_at?.toISOString() ?? null,
  created_at: r.created_at.toISOString(),
});

export async function listHosts(sql: Sql | Tx): Promise<HostView[]> {
  const rows = await sql<HostRow[]>`
    select id, hostname, status, sync_cursor, cpus, memory_mib, last_seen_at, created_at
    from hosts order by hostname`;
  return rows.map(toView);
}
