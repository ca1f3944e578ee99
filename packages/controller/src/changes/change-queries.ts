import type { Sql, Tx } from '../database/sql.ts';
import type { NewChange } from './change-schema.ts';

// Text arrays carry no SQL NULL through the client (it would arrive as the string NULL): a deletion's
// missing data travels as '' instead.

/** Appends changes to the log in one statement (inside the transaction of the changes themselves). */
export async function recordChanges(sql: Sql | Tx, at: Date, changes: readonly NewChange[]): Promise<void> {
  if (changes.length === 0) return;
  await sql`
    insert into changes (at, kind, entity_id, op, data)
    select ${at}, c.kind, c.entity_id, c.op, case when c.data = '' then null else c.data::jsonb end
    from unnest(${changes.map((c) => c.kind)}::text[], ${changes.map((c) => c.entityId)}::uuid[],
                ${changes.map((c) => c.op)}::text[],
                ${changes.map((c) => (c.data === null ? '' : JSON.stringify(c.data)))}::text[])
         as c (kind, entity_id, op, data)`;
}

/**
 * Deletes the log's rows older than `cutoff` (retention). They are found by id, the primary key: every
 * row below the first one at or after the cutoff, so the table is not scanned past what goes; `at` is
 * checked as well, for rows whose clock ran behind their id.
 */
export async function deleteChangesBefore(sql: Sql | Tx, cutoff: Date): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with horizon as (select id from changes where at >= ${cutoff} order by id limit 1),
    gone as (
      delete from changes
      where id < coalesce((select id from horizon), (select max(id) + 1 from changes)) and at < ${cutoff}
      returning 1
    )
    select count(*)::int as n from gone`;
  return row?.n ?? 0;
}
