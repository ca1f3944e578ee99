import type { Sql } from './sql.ts';

export type HostStatus = 'pending' | 'connected' | 'disconnected' | 'maintenance';

/** A host as the API shows it (the seed's field names). */
export interface HostView {
  id: string;
  hostname: string;
  status: HostStatus;
  sync_cursor: number;
  cpus: number | null;
  memory_mib: number | null;
  last_seen_at: string | null;
  created_at: string;
}

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

export async function listHosts(sql: Sql): Promise<HostView[]> {
  const rows = await sql<HostRow[]>`
    SELECT id, hostname, status, sync_cursor, cpus, memory_mib, last_seen_at, created_at
    FROM hosts ORDER BY hostname`;
  // bigint columns arrive as strings; cursors and sizes stay far below 2^53, so JSON numbers are exact.
  return rows.map((r) => ({
    id: r.id,
    hostname: r.hostname,
    status: r.status,
    sync_cursor: Number(r.sync_cursor),
    cpus: r.cpus,
    memory_mib: r.memory_mib === null ? null : Number(r.memory_mib),
    last_seen_at: r.last_seen_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
  }));
}
