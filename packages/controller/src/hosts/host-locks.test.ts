import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/agent-test-helpers.ts';
import { holdInTransaction } from '../../test/support/held-lock.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { uuidv7 } from '../ids.ts';
import { lockHostsInOrder, touchLastSeen } from './host-queries.ts';

// The many-host writers (the last-seen flush, the ingest's group commits) lock host rows in id order.
// Other transactions reference hosts through foreign keys (a migration's source and destination, a
// command's host), which takes FOR KEY SHARE on those rows in their own order: the ordered lock must
// not conflict with that, or the two deadlock.
describe('locking host rows in order', () => {
  let db: TestDatabase;
  let a: string;
  let b: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = [uuidv7(), uuidv7()].sort() as [string, string];
    for (const [id, name] of [
      [a, 'lock-a'],
      [b, 'lock-b'],
    ] as const) {
      await db.sql`insert into hosts (id, hostname, status, stream_epoch) values (${id}, ${name}, 'connected', 1)`;
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('does not wait for a transaction that only references a host, nor makes it wait', async () => {
    // A transaction that referenced B (a command row for it) and will reference A next, as a
    // migration's insert references its source and destination.
    const referencing = await holdInTransaction(db.sql, async (tx) => {
      await tx`insert into commands (id, host_id, kind, payload, status, deadline_at, created_at)
               values (${uuidv7()}, ${b}, 'power', '{}', 'pending', now() + interval '1 minute', now())`;
    });
    const now = new Date();
    // The flush locks A, then B: B is only key-shared, so it does not wait.
    const touched = await touchLastSeen(db.sql, [
      { hostId: a, epoch: 1, at: now },
      { hostId: b, epoch: 1, at: now },
    ]);
    expect(touched.sort()).toEqual([a, b]);
    await referencing.release();

    // And the other way round: while the flush holds both rows, a reference to either goes through.
    const flushing = await holdInTransaction(db.sql, (tx) => lockHostsInOrder(tx, [b, a]));
    await db.sql`insert into commands (id, host_id, kind, payload, status, deadline_at, created_at)
                 values (${uuidv7()}, ${a}, 'power', '{}', 'pending', now() + interval '1 minute', now())`;
    await flushing.release();
  });

  it('writes last-seen times a chunk of hosts per transaction: a row held elsewhere holds up only its chunk', async () => {
    const ids = Array.from({ length: 250 }, () => uuidv7()).sort();
    await db.sql`insert into hosts ${db.sql(ids.map((id, i) => ({ id, hostname: `seen-${i}`, status: 'connected', stream_epoch: 1 })))}`;
    const last = ids.at(-1) as string;
    // A group commit holding the last host's row, as the ingest does while it writes that host's VMs.
    const ingesting = await holdInTransaction(db.sql, (tx) => lockHostsInOrder(tx, [last]));
    const at = new Date();
    const flushed = touchLastSeen(
      db.sql,
      ids.map((hostId) => ({ hostId, epoch: 1, at })),
    );
    // The first hosts' times are committed while the flush still waits for that row.
    await eventually(
      'the chunks without the held row committed',
      async () =>
        (
          await db.sql<{ n: number }[]>`
            select count(*)::int as n from hosts where id = any(${ids}::uuid[]) and last_seen_at is not null`
        )[0]?.n,
      (n) => n === 200,
    );
    await ingesting.release();
    expect((await flushed).sort()).toEqual(ids);
  });
});
