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

  it('applies concurrent snapshots of 20 hosts, each reconciling its own VMs only, refusing the stale and the behind', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = uuidv7();
      ids.push(id);
      await db.sql`insert into hosts (id, hostname, status, stream_epoch, sync_cursor)
                   values (${id}, ${`snap-${i}`}, 'connected', 1, 5)`;
    }
    // Every host holds three VMs; its snapshot keeps the first, drops the other two and brings a new one.
    const held = ids.map((hostId, i) => ({
      hostId,
      vms: [0, 1, 2].map((k) => vm(randomUUID(), `held-${i}-${k}`, VmState.VM_STATE_RUNNING)),
    }));
    await Promise.all(
      held.map(({ hostId, vms }) =>
        ingest.applySnapshot({ hostId, epoch: 1 }, { cursor: 5, vms, host: undefined }),
      ),
    );
    const [stale, behind, ...good] = held as [(typeof held)[0], (typeof held)[0], ...typeof held];
    const snapshotOf = (h: (typeof held)[0], i: number) => [
      h.vms[0] as ReturnType<typeof vm>,
      vm(randomUUID(), `new-${i}`, VmState.VM_STATE_PAUSED),
    ];
    const results = await Promise.allSettled([
      ingest.applySnapshot({ hostId: stale.hostId, epoch: 0 }, { cursor: 9, vms: [], host: undefined }),
      ingest.applySnapshot({ hostId: behind.hostId, epoch: 1 }, { cursor: 4, vms: [], host: undefined }),
      // Ids in upper case: the same hosts, compared as values.
      ...good.map((h, i) =>
        ingest.applySnapshot(
          { hostId: h.hostId.toUpperCase(), epoch: 1 },
          { cursor: 6 + i, vms: snapshotOf(h, i), host: undefined },
        ),
      ),
    ]);
    const [staleResult, behindResult, ...goodResults] = results;
    expect(staleResult).toEqual({ status: 'fulfilled', value: { kind: 'replaced' } });
    expect(behindResult?.status === 'rejected' && isSyncProtocolError(behindResult.reason)).toBe(true);
    expect(goodResults.map((r) => (r.status === 'fulfilled' ? r.value : r.reason))).toEqual(
      good.map((_, i) => ({ kind: 'applied', cursor: 6 + i })),
    );

    const rows = await db.sql<{ host_id: string; name: string; cursor: string }[]>`
      select h.id as host_id, v.name, h.sync_cursor as cursor
      from hosts h join vms v on v.host_id = h.id where h.id = any(${ids}::uuid[]) order by v.name`;
    const namesOf = (hostId: string) => rows.filter((r) => r.host_id === hostId).map((r) => r.name);
    // The refused hosts keep all they had; each applied host has exactly its snapshot.
    expect(namesOf(stale.hostId)).toEqual(['held-0-0', 'held-0-1', 'held-0-2']);
    expect(namesOf(behind.hostId)).toEqual(['held-1-0', 'held-1-1', 'held-1-2']);
    good.forEach((h, i) => {
      expect(namesOf(h.hostId)).toEqual([`held-${i + 2}-0`, `new-${i}`]);
    });
    const cursors = await db.sql<{ id: string; sync_cursor: string }[]>`
      select id, sync_cursor from hosts where id = any(${ids}::uuid[])`;
    const cursorOf = new Map(cursors.map((c) => [c.id, Number(c.sync_cursor)]));
    expect(cursorOf.get(stale.hostId)).toBe(5);
    expect(cursorOf.get(behind.hostId)).toBe(5);
    good.forEach((h, i) => {
      expect(cursorOf.get(h.hostId)).toBe(6 + i);
    });
    // Every removal is in the change log, once.
    const deletions = await db.sql<{ n: number }[]>`
      select count(*)::int as n from changes
      where kind = 'vm' and op = 'delete' and entity_id = any(${held.flatMap((h) => h.vms.map((v) => v.id))}::uuid[])`;
    expect(deletions[0]?.n).toBe(good.length * 2);
  });

  // A newer stream of a host took over while the older one's job still waited for a transaction: both
  // jobs land in one group. Only the newer epoch's is applied; the older is told it was replaced.
  describe('a replaced stream’s job grouped with its successor’s', () => {
    const newHost = async (cursor: number) => {
      const id = uuidv7();
      await db.sql`insert into hosts (id, hostname, status, stream_epoch, sync_cursor)
                   values (${id}, ${`taken-${id}`}, 'connected', 2, ${cursor})`;
      return id;
    };
    const namesOf = async (hostId: string) =>
      (await db.sql<{ name: string }[]>`select name from vms where host_id = ${hostId} order by name`).map(
        (r) => r.name,
      );
    const running = (name: string) => vm(randomUUID(), name, VmState.VM_STATE_RUNNING);

    it('batches: the older stream’s changes are not written', async () => {
      const fillers = await Promise.all([0, 1, 2, 3].map(() => newHost(0)));
      const taken = await newHost(0);
      // Four batches of other hosts take the four transactions; the two of `taken` wait, then go together.
      const results = await Promise.all([
        ...fillers.map((hostId) => ingest.applyBatch({ hostId, epoch: 2 }, [change(1, 'filler')])),
        ingest.applyBatch({ hostId: taken, epoch: 1 }, [change(1, 'older')]),
        ingest.applyBatch({ hostId: taken.toUpperCase(), epoch: 2 }, [change(1, 'newer')]),
      ]);
      expect(results.slice(-2)).toEqual([{ kind: 'replaced' }, { kind: 'applied', cursor: 1 }]);
      expect(await namesOf(taken)).toEqual(['newer']);
    });

    it('snapshots: the older stream’s VMs are not written', async () => {
      const fillers = await Promise.all([0, 1].map(() => newHost(5)));
      const taken = await newHost(5);
      // Two snapshots of other hosts take the two snapshot transactions; then `taken`'s two go together.
      const results = await Promise.all([
        ...fillers.map((hostId) =>
          ingest.applySnapshot(
            { hostId, epoch: 2 },
            { cursor: 6, vms: [running('filler')], host: undefined },
          ),
        ),
        ingest.applySnapshot(
          { hostId: taken, epoch: 1 },
          { cursor: 6, vms: [running('older')], host: undefined },
        ),
        ingest.applySnapshot(
          { hostId: taken, epoch: 2 },
          { cursor: 6, vms: [running('newer')], host: undefined },
        ),
      ]);
      expect(results.slice(-2)).toEqual([{ kind: 'replaced' }, { kind: 'applied', cursor: 6 }]);
      expect(await namesOf(taken)).toEqual(['newer']);
    });
  });
});
