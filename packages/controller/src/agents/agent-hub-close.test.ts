import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdInTransaction } from '../../test/support/held-lock.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A stopping controller closes its database right after the hub: a sweep still in its transaction then
// failed with CONNECTION_ENDED. close() must wait for it.
describe('agent hub close', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('waits for a sweep in the middle of its transaction before it resolves', async () => {
    // A host whose stream was held by a replica that died: the next sweep disconnects it.
    const hostId = randomUUID();
    await t.sql`
      insert into hosts (id, hostname, status, stream_replica, stream_epoch)
      values (${hostId}, 'hub-close-test', 'connected', 'a-dead-replica', 1)`;
    // Hold the host's row so the sweep's update waits on it, mid-transaction.
    const lock = await holdInTransaction(
      t.sql,
      (tx) => tx`select 1 from hosts where id = ${hostId} for update`,
    );
    let closing: Promise<void> | undefined;
    let closed = false;
    try {
      // pg_stat_activity shows the whole cluster: other test files' hubs, each on a database of its own,
      // run this sweep and release streams with a statement that begins alike; one of them waiting on
      // a lock of its own once passed for ours (CI, 2026-12-04), and close() came before this hub's
      // sweep began. This database, and the sweep's own statement.
      await waitFor('the sweep waiting on the held row', async () => {
        const [row] = await t.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%update hosts set status = ''disconnected''%last_seen_at is null%'`;
        return (row?.n ?? 0) > 0;
      });
      closing = t.services.agents.close().then(() => {
        closed = true;
      });
      // Everything else close() does takes a few milliseconds here (no streams); a close that does not
      // wait for the sweep has long resolved after this window.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(closed, 'close() resolved while the sweep was still in its transaction').toBe(false);
    } finally {
      await lock.release();
    }
    await closing;
    const [host] = await t.sql<{ status: string }[]>`select status from hosts where id = ${hostId}`;
    expect(host?.status).toBe('disconnected');
    expect(t.logs.filter((l) => l.msg === 'sweep failed; trying again')).toEqual([]);
  });
});
