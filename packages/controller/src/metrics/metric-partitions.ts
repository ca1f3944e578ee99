import type { Sql, Tx } from '../database/sql.ts';
import type { Subject } from './metric-catalog.ts';
import { floorTo, TIERS, type Tier, tableOf } from './metric-tiers.ts';

/** Advisory-lock key (two-int key space) that serializes partition DDL between replicas. */
const DDL_LOCK = [0x6d65, 1] as const;

/** `metric_vm_raw_p20260101t0300`: the table and the UTC start of the partition's range. */
export function partitionName(table: string, startMs: number): string {
  const iso = new Date(startMs).toISOString(); // 2026-01-01T03:00:00.000Z
  return `${table}_p${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}t${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

/** The start of the range a partition name stands for (partitionName read back), or undefined. */
export function partitionStart(name: string): number | undefined {
  const m = /_p(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})$/.exec(name);
  if (m === null) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
}

/** The partitions of a tier's table as they exist now: name and range start. */
export async function listPartitions(
  sql: Sql | Tx,
  subject: Subject,
  tier: Tier,
): Promise<Array<{ name: string; startMs: number }>> {
  const rows = await sql<{ name: string }[]>`
    select c.relname as name
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    where p.relname = ${tableOf(subject, tier)}`;
  return rows.flatMap(({ name }) => {
    const startMs = partitionStart(name);
    return startMs === undefined ? [] : [{ name, startMs }];
  });
}

/**
 * The partitions a tier needs for rows between `fromMs` and `toMs`: the starts of their ranges
 * (aligned to the tier's partition width).
 */
export function partitionStarts(tier: Tier, fromMs: number, toMs: number): number[] {
  const width = TIERS[tier].partitionMs;
  const starts: number[] = [];
  for (let start = floorTo(fromMs, width); start < toMs; start += width) starts.push(start);
  return starts;
}

/**
 * Creates the partitions of `subject`'s `tier` table starting at `starts` that do not exist yet, in the
 * caller's transaction, one replica at a time (the DDL lock, held to its end). Idempotent. The parent
 * table is locked until the transaction ends: keep it short.
 */
export async function createPartitions(
  tx: Tx,
  subject: Subject,
  tier: Tier,
  starts: readonly number[],
): Promise<string[]> {
  if (starts.length === 0) return [];
  const table = tableOf(subject, tier);
  const width = TIERS[tier].partitionMs;
  const existing = new Set((await listPartitions(tx, subject, tier)).map((p) => p.name));
  const missing = starts.filter((start) => !existing.has(partitionName(table, start)));
  if (missing.length === 0) return [];
  await tx`select pg_advisory_xact_lock(${DDL_LOCK[0]}, ${DDL_LOCK[1]})`;
  for (const start of missing) {
    const from = new Date(start).toISOString();
    const to = new Date(start + width).toISOString();
    await tx.unsafe(
      `create table if not exists ${partitionName(table, start)} partition of ${table} for values from ('${from}') to ('${to}')`,
    );
  }
  return missing.map((start) => partitionName(table, start));
}

/** The partitions of a tier whose whole range is before `cutoffMs`. */
export async function partitionsBefore(
  sql: Sql | Tx,
  subject: Subject,
  tier: Tier,
  cutoffMs: number,
): Promise<string[]> {
  const width = TIERS[tier].partitionMs;
  return (await listPartitions(sql, subject, tier))
    .filter((p) => p.startMs + width <= cutoffMs)
    .map((p) => p.name);
}

/** Drops one partition in the caller's transaction (the DDL lock held to its end). */
export async function dropPartition(tx: Tx, name: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(${DDL_LOCK[0]}, ${DDL_LOCK[1]})`;
  await tx.unsafe(`drop table if exists ${name}`);
}
