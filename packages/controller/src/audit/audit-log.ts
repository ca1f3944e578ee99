import type { Sql } from '../store/sql.ts';

export interface AuditEntry {
  at: Date;
  requestId: string | null;
  actorId: string | null;
  actorUsername: string | null;
  /** What was attempted: the method and route pattern, e.g. `POST /api/v1/users/:id/disable`. */
  action: string;
  method: string;
  path: string;
  /** What it was done to, e.g. `user:<id>`; null when there is no single target. */
  target: string | null;
  /** `success`, or the error code the caller got (`unauthorized`, `conflict`, ...). */
  result: string;
  status: number;
  clientAddress: string | null;
}

export async function recordAudit(sql: Sql, e: AuditEntry): Promise<void> {
  await sql`
    insert into audit_log (at, request_id, actor_id, actor_username, action, method, path, target, result, status, client_address)
    values (${e.at}, ${e.requestId}, ${e.actorId}, ${e.actorUsername}, ${e.action}, ${e.method}, ${e.path},
            ${e.target}, ${e.result}, ${e.status}, ${e.clientAddress})`;
}

/** One entry as the API shows it (`GET /api/v1/audit`). */
export interface AuditView {
  id: number;
  at: string;
  request_id: string | null;
  actor_id: string | null;
  actor_username: string | null;
  action: string;
  method: string;
  path: string;
  target: string | null;
  result: string;
  status: number;
  client_address: string | null;
}

/** What `select *` returns: bigint identity as a string, `at` as a Date. */
type AuditRow = Omit<AuditView, 'id' | 'at'> & { id: string; at: Date };

/** Newest first; `before` is the id of the last row of the previous page (keyset pagination). */
export async function listAudit(sql: Sql, page: { limit: number; before?: number }): Promise<AuditView[]> {
  const rows = await sql<AuditRow[]>`
    select * from audit_log
    ${page.before === undefined ? sql`` : sql`where id < ${page.before}`}
    order by id desc
    limit ${page.limit}`;
  // bigint identity comes back as a string; audit ids stay far below 2^53.
  return rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() }));
}
