import { randomUUID } from 'node:crypto';
import type { StateChange } from '@cockpit/proto';
import { VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vm } from '../../test/support/scripted-agent.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { systemClock } from '../clock.ts';
import { uuidv7 } from '../ids.ts';
import { createLogger } from '../log.ts';
import { createSyncIngest, isSyncProtocolError, type SyncIngest } from './sync-ingest.ts';

// Batches of many hosts arriving together are applied in shared transactions (group commit); each
// still gets its own outcome, and one host's refusal never holds back another's changes.
describe('sync ingest, many hosts at once', () => {
  let db: TestDatabase;
  let ingest: SyncIngest;
  const hosts: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    ingest = createSyncIngest({ sql: db.sql, clock: systemClock, log: createLogger('silent') });
    for (let i = 0; i < 30; i++) {
      const id = uuidv7();
      hosts.push(id);
      await db.sql`insert into hosts (id, hostname, status, stream_epoch) values (${id}, ${`ingest-${i}`}, 'connected', 1)`;
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  const change = (cursor: number, name: string): StateChange => ({
    cursor,
    observedAtMs: 0,
    change: { $case: 'vmUpdated', value: vm(randomUUID(), name, VmState.VM_STATE_RUNNING) },
  });

  it('applies concurrent batches of 30 hosts, refusing only the gap and the stale stream', async () => {
    const [gap, stale, ...good] = hosts as [string, string, ...string[]];
    const results = await Promise.allSettled([
      ingest.applyBatch({ hostId: gap, epoch: 1 }, [change(7, 'gap')]),
      ingest.applyBatch({ hostId: stale, epoch: 0 }, [change(1, 'stale')]),
      ...good.map((hostId, i) =>
        ingest.applyBatch({ hostId, epoch: 1 }, [change(1, `a-${i}`), change(2, `b-${i}`)]),
      ),
    ]);
    const [gapResult, staleResult, ...goodResults] = results;
    expect(gapResult?.status === 'rejected' && isSyncProtocolError(gapResult.reason)).toBe(true);
    expect(staleResult).toEqual({ status: 'fulfilled', value: { kind: 'replaced' } });
    expect(
      goodResults.every(
        (r) => r.status === 'fulfilled' && r.value.kind === 'applied' && r.value.cursor === 2,
      ),
    ).toBe(true);
    const counts = await db.sql<{ host_id: string; n: number; cursor: string }[]>`
      select h.id as host_id, count(v.id)::int as n, h.sync_cursor as cursor
      from hosts h left join vms v on v.host_id = h.id group by h.id`;
    const byHost = new Map(counts.map((c) => [c.host_id, c]));
    expect(byHost.get(gap)).toMatchObject({ n: 0, cursor: '0' });
    expect(byHost.get(stale)).toMatchObject({ n: 0, cursor: '0' });
    for (const id of good) expect(byHost.get(id)).toMatchObject({ n: 2, cursor: '2' });
  });
});
