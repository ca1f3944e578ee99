import type { Sql, Tx } from '../../src/database/sql.ts';

/**
 * Runs `take` (a statement that takes a lock) in a transaction of its own and keeps that transaction
 * open, so the test can make others wait on the lock; `release` commits it. For tests that need
 * requests to truly overlap in the database, not merely run one after the other.
 */
export async function holdInTransaction(
  sql: Sql,
  take: (tx: Tx) => Promise<unknown>,
): Promise<{ release(): Promise<void> }> {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let taken: () => void = () => undefined;
  const lockTaken = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const holder = sql.begin(async (tx) => {
    await take(tx);
    taken();
    await released;
  });
  await Promise.race([lockTaken, holder]);
  return {
    release: async () => {
      release();
      await holder;
    },
  };
}
