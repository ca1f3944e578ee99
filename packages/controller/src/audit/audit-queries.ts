import type { Sql, Tx } from '../database/sql.ts';
import type { AuditView, NewAuditEntry } from './audit-schema.ts';

// The audit_log table. Queries return entries as the API shows them (AuditView).

export async function insertAuditEntry(sql: Sql | Tx, e: NewAuditEntry): Promise<void> {
  await sql`
    insert into audit_log (at, request_id, actor_id, actor_username, action, method, path, target, result, status, client_address)
    values (${e.at}, ${e.requestId}, ${e.actorId}, ${e.actorUsername}, ${e.action}, ${e.method}, ${e.path},
            ${e.target}, ${e.result}, ${e.status}, ${e.clientAddress})`;
}

/** What `select *` returns: bigint identity as a string, `at` as a Date. */
type AuditRow = Omit<AuditView, 'id' | 'at'> & { id: string; at: Date };

// bigint identity comes back as a string; audit ids stay far below 2^53.
const toView = (r: AuditRow): AuditView => ({ ...r, id: Number(r.id), at: r.at.toISOString() });

/** Newest first; `before` is the id of the last row of the previous page (keyset pagination). */
export async function listAuditEntries(
  sql: Sql | Tx,
  page: { limit: number; before?: number },
): Promise<AuditView[]> {
  const rows = await sql<AuditRow[]>`
    select * from audit_log
    ${page.before === undefined ? sql`` : sql`where id < ${page.before}`}
    order by id desc
    limit ${page.limit}`;
  return rows.map(toView);
}
