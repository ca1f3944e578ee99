import type { Sql, Tx } from '../database/sql.ts';
import type { ChangeKind, ChangeOp } from './change-schema.ts';

/** A row of the change log as a reader gets it. */
export interface ChangeRow {
  /** The change's id: per entity, a later change has a larger one (see ChangeTail). */
  id: number;
  kind: ChangeKind;
  entityId: string;
  op: ChangeOp;
  /** The stored view after the change (parsed JSON); null for a deletion. */
  data: Record<string, unknown> | null;
}

/**
 * Where a reader of the change log stands: the rows visible in one snapshot, which that snapshot
 * describes. `top` is the largest id visible; `unseen` the transactions the snapshot did not see (in
 * progress: `xip`; not yet started: `xmax` and above).
 */
export interface TailPosition {
  top: number;
  xip: string[];
  xmax: string;
}

/** Parses `pg_current_snapshot()`'s text, `xmin:xmax:xip,xip`. */
export function parseSnapshot(text: string): { xmax: string; xip: string[] } {
  const [, xmax = '0', xip = ''] = text.split(':');
  return { xmax, xip: xip === '' ? [] : xip.split(',') };
}

/**
 * Reads the change log in order without ever skipping a row. Identity ids are taken at insert and
 * committed in any order, so `id > top` alone would lose a row with a smaller id whose transaction
 * commits after a larger one was read. Alternatives: an advisory lock around every append would make
 * ids follow commits, but it serializes every transaction that logs a change from its first change to
 * its commit (the sync ingest's group commits among them, the ingest target being 20,000 changes/s);
 * re-reading a trailing window by time is wrong whenever a transaction outlives the window. So each
 * row carries its transaction's id (`changes.xid`, migration 0008) and each read takes its snapshot:
 * the next read asks for `id > top` and, below it, for the rows of exactly the transactions that the
 * previous snapshot did not see. A row of a transaction the previous snapshot saw was read then; any
 * other row is either above `top` or belongs to one of those transactions. Rows come back once at most,
 * so applying them needs no de-duplication. Changes of one entity are written under its row lock, so
 * per entity the ids follow the commits and the last id wins.
 */
export class ChangeTail {
  constructor(
    private position: TailPosition,
    private readonly kinds: readonly ChangeKind[],
  ) {}

  /** Where a read in the current transaction (its snapshot) stands: used when a reader loads its state. */
  static async positionOf(tx: Tx | Sql): Promise<TailPosition> {
    const [row] = await tx<{ snap: string; top: string | null }[]>`
      select pg_current_snapshot()::text as snap, (select max(id) from changes) as top`;
    const { xmax, xip } = parseSnapshot(row?.snap ?? '0:0:');
    return { top: Number(row?.top ?? 0), xmax, xip };
  }

  get top(): number {
    return this.position.top;
  }

  /** Ids of rows the reader applied already (its own commits): the next read leaves them out. */
  private readonly have = new Set<number>();

  /** Rows applied from their writer's commit: not read again. */
  applied(ids: Iterable<number>): void {
    for (const id of ids) this.have.add(id);
  }

  /** The rows committed since the last read, in id order; one statement, so one snapshot. */
  async read(sql: Sql): Promise<ChangeRow[]> {
    const { top, xip, xmax } = this.position;
    // Rows marked before this read began were committed before its snapshot: it would have seen them.
    const skip = [...this.have];
    const kinds = this.kinds as ChangeKind[];
    const rows = await sql<
      Array<{
        id: string | null;
        kind: ChangeKind;
        entity_id: string;
        op: ChangeOp;
        data: Record<string, unknown> | null;
        snap: string | null;
        top: string | null;
      }>
    >`
      select null::bigint as id, null::text as kind, null::uuid as entity_id, null::text as op, null::jsonb as data,
             pg_current_snapshot()::text as snap, (select max(id) from changes)::text as top
      union all
      select id, kind, entity_id, op, data, null, null
      from changes_after(${top}, ${xip}::xid8[], ${xmax}::xid8, ${kinds}::text[], ${skip}::bigint[])`;
    for (const id of skip) this.have.delete(id);
    const head = rows.find((r) => r.snap !== null);
    if (head?.snap == null) throw new Error('the change log read returned no snapshot');
    const snapshot = parseSnapshot(head.snap);
    this.position = { top: Math.max(top, Number(head.top ?? 0)), xmax: snapshot.xmax, xip: snapshot.xip };
    const changes: ChangeRow[] = [];
    for (const r of rows) {
      if (r.id !== null)
        changes.push({ id: Number(r.id), kind: r.kind, entityId: r.entity_id, op: r.op, data: r.data });
    }
    // UNION ALL keeps no promise about the order of its parts.
    return changes.sort((a, b) => a.id - b.id);
  }
}
