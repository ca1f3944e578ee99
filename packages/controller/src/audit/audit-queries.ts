import type { Sql, Tx } from '../database/sql.ts';
import { isUuid } from '../ids.ts';
import type { AuditFilter, AuditView, NewAuditEntry } from './audit-schema.ts';

// The audit_log table. Queries return entries as the API shows them (AuditView).

/** The longest path an entry keeps; longer ones are cut (an 8,000-character path is noise, not evidence). */
export const AUDIT_PATH_MAX = 512;

/**
 * Text as PostgreSQL can store it: NUL (which `text` refuses) becomes U+FFFD, so an entry about a
 * request with one is still written, and saying so is visible.
 */
const storable = (text: string | null): string | null =>
  text === null ? null : text.replaceAll('\0', '\uFFFD');

const bounded = (path: string): string =>
  path.length <= AUDIT_PATH_MAX ? path : `${path.slice(0, AUDIT_PATH_MAX - 1)}…`;

export async function insertAuditEntry(sql: Sql | Tx, entry: NewAuditEntry): Promise<void> {
  const e: NewAuditEntry = {
    ...entry,
    actorUsername: storable(entry.actorUsername),
    action: storable(bounded(entry.action)) ?? '',
    path: storable(bounded(entry.path)) ?? '',
    target: storable(entry.target),
    requestId: storable(entry.requestId),
    clientAddress: storable(entry.clientAddress),
    detail: entry.detail ?? null,
  };
  await sql`
    insert into audit_log (at, request_id, actor_id, actor_username, action, method, path, target, result, status, client_address, detail)
    values (${e.at}, ${e.requestId}, ${e.actorId}, ${e.actorUsername}, ${e.action}, ${e.method}, ${e.path},
            ${e.target}, ${e.result}, ${e.status}, ${e.clientAddress},
            ${e.detail === null || e.detail === undefined ? null : sql.json(e.detail)})`;
}

/** What `select *` returns: bigint identity as a string, `at` as a Date. */
type AuditRow = Omit<AuditView, 'id' | 'at'> & { id: string; at: Date };

// bigint identity comes back as a string; audit ids stay far below 2^53.
const toView = (r: AuditRow): AuditView => ({ ...r, id: Number(r.id), at: r.at.toISOString() });

/**
 * Newest first; `before` is the id of the last row of the previous page (keyset pagination). Filters
 * hold together: `actor` is a username or a user id, `target` as recorded (`user:<id>`), `action`
 * as recorded (`POST /api/v1/users/:id/disable`), `from` inclusive and `to` exclusive.
 */
export async function listAuditEntries(
  sql: Sql | Tx,
  page: { limit: number; before?: number } & AuditFilter,
): Promise<AuditView[]> {
  const conditions = [
    page.before === undefined ? null : sql`id < ${page.before}`,
    page.actor === undefined
      ? null
      : isUuid(page.actor)
        ? sql`actor_id = ${page.actor}`
        : sql`actor_username = ${page.actor}`,
    page.action === undefined ? null : sql`action = ${page.action}`,
    page.target === undefined ? null : sql`target = ${page.target}`,
    page.from === undefined ? null : sql`at >= ${page.from}`,
    page.to === undefined ? null : sql`at < ${page.to}`,
  ].filter((c) => c !== null);
  const where = conditions.reduce((acc, c, i) => (i === 0 ? sql`where ${c}` : sql`${acc} and ${c}`), sql``);
  const rows = await sql<AuditRow[]>`
    select * from audit_log ${where}
    order by id desc
    limit ${page.limit}`;
  return rows.map(toView);
}

/** Deletes the entries recorded before `cutoff`; how many. */
export async function deleteAuditEntriesBefore(sql: Sql | Tx, cutoff: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with gone as (delete from audit_log where at < ${cutoff} returning 1) select count(*)::int as n from gone`;
  return row?.n ?? 0;
}
