import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdInTransaction } from '../../test/support/held-lock.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { connect } from '../database/connect.ts';
import type { Sql } from '../database/sql.ts';
import { recordChanges } from './change-queries.ts';
import { ChangeTail, parseSnapshot } from './change-tail.ts';

// The change log's ids are taken at insert and commit in any order: the tail must never skip a row
// that becomes visible after a larger id was read.
describe('ChangeTail', () => {
  let db: TestDatabase;
  let writers: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    writers = connect(db.url, { max: 12 });
  });
  afterAll(async () => {
    await writers?.end();
    await db?.drop();
  });

  const log = (sql: Sql, entityId: string) =>
    sql.begin((tx) => recordChanges(tx, new Date(), [{ kind: 'vm', entityId, op: 'delete', data: null }]));

  it('parses a snapshot', () => {
    expect(parseSnapshot('10:14:10,12')).toEqual({ xmax: '14', xip: ['10', '12'] });
    expect(parseSnapshot('14:14:')).toEqual({ xmax: '14', xip: [] });
  });

  it('reads a row committed after a larger id was read, once', async () => {
    const tail = new ChangeTail(await ChangeTail.positionOf(db.sql), ['vm']);
    const early = randomUUID();
    const late = randomUUID();
    // The first transaction takes its id, then stays open while a second one logs and commits.
    const held = await holdInTransaction(writers, (tx) =>
      recordChanges(tx, new Date(), [{ kind: 'vm', entityId: early, op: 'delete', data: null }]),
    );
    await log(writers, late);
    const first = await tail.read(db.sql);
    expect(first.map((c) => c.entityId)).toEqual([late]);
    await held.release();
    const second = await tail.read(db.sql);
    expect(second.map((c) => c.entityId)).toEqual([early]);
    expect(second[0]?.id).toBeLessThan(first[0]?.id ?? 0);
    expect(await tail.read(db.sql)).toEqual([]);
  });

  it('with concurrent writers committing out of order, reads every row exactly once', async () => {
    const tail = new ChangeTail(await ChangeTail.positionOf(db.sql), ['vm']);
    const written: string[] = [];
    const seen: string[] = [];
    /** The largest id of each read so far, and whether a later read brought a smaller one. */
    let largest = 0;
    let lateRows = 0;
    const take = (rows: Awaited<ReturnType<ChangeTail['read']>>) => {
      for (const c of rows) {
        seen.push(c.entityId);
        if (c.id < largest) lateRows++;
      }
      largest = Math.max(largest, ...rows.map((c) => c.id));
    };
    let writing = true;
    const reader = (async () => {
      while (writing) take(await tail.read(db.sql));
    })();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 30; i++) {
          const id = randomUUID();
          // Each transaction holds its id for a random while before committing (or rolling back).
          const rollback = Math.random() < 0.1;
          await writers
            .begin(async (tx) => {
              await recordChanges(tx, new Date(), [{ kind: 'vm', entityId: id, op: 'delete', data: null }]);
              await tx`select pg_sleep(${Math.random() * 0.02})`;
              if (rollback) throw new Error('rolled back');
            })
            .then(
              () => written.push(id),
              () => undefined,
            );
        }
      }),
    );
    writing = false;
    await reader;
    take(await tail.read(db.sql));
    expect(seen.length).toBe(written.length);
    expect(new Set(seen)).toEqual(new Set(written));
    // Rows did become visible after larger ids had been read (else this test proves nothing).
    expect(lateRows).toBeGreaterThan(0);
  }, 60_000);
});
