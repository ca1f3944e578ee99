import { randomUUID } from 'node:crypto';
import type { StateChange } from '@cockpit/proto';
import { VmRemovalReason, VmState } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vm } from '../../test/support/scripted-agent.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { createSyncIngest, type SyncIngest } from '../agents/sync-ingest.ts';
import { recordChanges } from '../changes/change-queries.ts';
import { systemClock } from '../clock.ts';
import { deleteHost, findHost } from '../hosts/host-queries.ts';
import { uuidv7 } from '../ids.ts';
import { createLogger } from '../log.ts';
import { createInProcessNotifier } from '../notifier/in-process-notifier.ts';
import { VmCache } from './vm-cache.ts';
import { findVm, listVms, type VmFilter } from './vm-queries.ts';
import { VM_STATES } from './vm-schema.ts';

// Property-style: after random ingest (upserts, renames, removals, snapshots, conflicts, host status
// changes, a host deleted), the cache answers every filter and page exactly as the SQL does.
describe('VM cache against the SQL', () => {
  let db: TestDatabase;
  let ingest: SyncIngest;
  let cache: VmCache;
  const hosts: string[] = [];
  const cursors = new Map<string, number>();
  const held = new Map<string, Map<string, string>>(); // host -> vm id -> name
  // Names that collide across hosts and sort differently by code point than by UTF-16 unit or locale.
  const NAMES = [
    'web',
    'Web',
    'db',
    'é-vm',
    'e-vm',
    '\uE000-private',
    '😀-emoji',
    'a b',
    'z',
    'vm-10',
    'vm-9',
  ];
  const STATES = [VmState.VM_STATE_RUNNING, VmState.VM_STATE_PAUSED, VmState.VM_STATE_SHUT_OFF];
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  beforeAll(async () => {
    db = await createTestDatabase();
    const log = createLogger('silent');
    cache = new VmCache({ sql: db.sql, log });
    ingest = createSyncIngest({
      sql: db.sql,
      clock: systemClock,
      log,
      changesCommitted: (writes, at) => cache.committed(writes, at),
    });
    for (let i = 0; i < 5; i++) {
      const id = uuidv7();
      hosts.push(id);
      cursors.set(id, 0);
      held.set(id, new Map());
      await db.sql`insert into hosts (id, hostname, status, stream_epoch, last_seen_at)
        values (${id}, ${`cache-${i}`}, ${i === 4 ? 'disconnected' : 'connected'}, 1,
                ${new Date(Date.UTC(2026, 0, 1, 0, 0, i * 7))})`;
    }
  });
  afterAll(async () => {
    cache?.close();
    await db?.drop();
  });

  /** One random batch of one host: new VMs (names colliding), updates, renames, removals, another host's ids. */
  async function randomBatch(hostId: string): Promise<void> {
    const own = held.get(hostId) as Map<string, string>;
    const changes: StateChange['change'][] = [];
    for (let n = 1 + Math.floor(random() * 6); n > 0; n--) {
      const roll = random();
      const ids = [...own.keys()];
      if (roll < 0.45 || ids.length === 0) {
        // A name free on this host (libvirt's names are unique per host).
        const free = NAMES.filter((name) => ![...own.values()].includes(name));
        if (free.length === 0) continue;
        const id = randomUUID();
        const name = pick(free);
        own.set(id, name);
        changes.push({ $case: 'vmUpdated', value: vm(id, name, pick(STATES), { memoryMib: 1 + n }) });
      } else if (roll < 0.75) {
        const id = pick(ids);
        changes.push({
          $case: 'vmUpdated',
          value: vm(id, own.get(id) as string, pick(STATES), { memoryMib: Math.floor(random() * 9000) }),
        });
      } else if (roll < 0.9) {
        const id = pick(ids);
        changes.push({
          $case: 'vmRemoved',
          value: { id, name: own.get(id) as string, reason: VmRemovalReason.VM_REMOVAL_REASON_UNDEFINED },
        });
        own.delete(id);
      } else {
        // A VM id another host holds: a conflict, never merged.
        const other = pick(hosts.filter((h) => h !== hostId));
        const theirs = [...(held.get(other)?.keys() ?? [])];
        const free = NAMES.filter((name) => ![...own.values()].includes(name));
        if (theirs.length === 0 || free.length === 0) continue;
        const id = pick(theirs);
        if (own.has(id)) continue;
        const name = pick(free);
        own.set(id, name);
        changes.push({ $case: 'vmUpdated', value: vm(id, name) });
      }
    }
    if (changes.length === 0) return;
    const first = (cursors.get(hostId) ?? 0) + 1;
    cursors.set(hostId, first + changes.length - 1);
    const outcome = await ingest.applyBatch(
      { hostId, epoch: 1 },
      changes.map((change, i) => ({ cursor: first + i, observedAtMs: 0, change })),
    );
    expect(outcome.kind).toBe('applied');
  }

  async function setStatus(hostId: string, status: 'connected' | 'disconnected'): Promise<void> {
    await db.sql.begin(async (tx) => {
      await tx`update hosts set status = ${status} where id = ${hostId}`;
      const view = await findHost(tx, hostId);
      await recordChanges(tx, new Date(), [{ kind: 'host', entityId: hostId, op: 'upsert', data: view }]);
    });
  }

  const RENDERER = {};

  /** Every page of every filter, at several page sizes: the cache's answer equals the SQL's. */
  async function expectSameAnswers(): Promise<number> {
    const filters: VmFilter[] = [
      {},
      ...hosts.map((hostId) => ({ hostId })),
      ...VM_STATES.map((state) => ({ state })),
      ...NAMES.map((name) => ({ name })),
      ...hosts.slice(0, 2).map((hostId) => ({ hostId, state: 'running' as const })),
      { name: 'web', state: 'paused' },
      { hostId: randomUUID() },
    ];
    let compared = 0;
    for (const filter of filters) {
      for (const limit of [1, 3, 100]) {
        let after: { name: string; id: string } | undefined;
        for (;;) {
          const page = { limit, after };
          const fromSql = await listVms(db.sql, filter, page);
          expect(await cache.list(filter, page), JSON.stringify({ filter, page })).toEqual(fromSql);
          // The rendered page (the route's JSON), reused while nothing changed: never an older one.
          const rendered = await cache.listRendered(RENDERER, filter, page, (vms) => ({ vms }));
          expect(rendered.vms, JSON.stringify({ filter, page, rendered: true })).toEqual(fromSql);
          compared++;
          const last = fromSql.at(-1);
          if (fromSql.length < limit || last === undefined) break;
          after = { name: last.name, id: last.id };
        }
      }
    }
    const ids = await db.sql<{ id: string }[]>`select id from vms`;
    for (const { id } of [...ids, { id: randomUUID() }]) {
      expect(await cache.get(id.toUpperCase())).toEqual(await findVm(db.sql, id));
    }
    return compared;
  }

  it('answers every filter and page as the SQL does, loaded and then tailing', async () => {
    for (let i = 0; i < 20; i++) await randomBatch(pick(hosts));
    expect(await expectSameAnswers()).toBeGreaterThan(100); // loads here
    for (let round = 0; round < 4; round++) {
      // Concurrent batches of different hosts (group commits), then status flips.
      await Promise.all(hosts.map(async (h) => randomBatch(h)));
      for (let i = 0; i < 10; i++) await randomBatch(pick(hosts));
      await setStatus(pick(hosts), pick(['connected', 'disconnected'] as const));
      await expectSameAnswers();
    }
    // A conflicting report must exist for the test to mean something.
    expect((await db.sql`select 1 from vm_conflicts`).length).toBeGreaterThan(0);
  }, 120_000);

  it('renders a page once while nothing changes, and again after a change', async () => {
    const render = (vms: unknown[]) => ({ vms });
    const page = { limit: 100 };
    const first = await cache.listRendered(RENDERER, {}, page, render);
    expect(await cache.listRendered(RENDERER, {}, page, render)).toBe(first);
    // Same filter spelt in another case: the same page.
    const hostId = hosts[0] as string;
    const own = await cache.listRendered(RENDERER, { hostId }, page, render);
    expect(await cache.listRendered(RENDERER, { hostId: hostId.toUpperCase() }, page, render)).toBe(own);
    const cursor = (cursors.get(hostId) ?? 0) + 1;
    cursors.set(hostId, cursor);
    const outcome = await ingest.applyBatch({ hostId, epoch: 1 }, [
      { cursor, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(randomUUID(), 'rendered-anew') } },
    ]);
    expect(outcome.kind).toBe('applied');
    const after = await cache.listRendered(RENDERER, { hostId }, page, render);
    expect(after).not.toBe(own);
    expect(after.vms).toEqual(await listVms(db.sql, { hostId }, page));
    expect(after.vms.map((v) => (v as { name: string }).name)).toContain('rendered-anew');
  });

  it('drops a deleted host’s VMs and its conflict records (on delete cascade, logged as the host’s delete)', async () => {
    const gone = hosts[1] as string;
    await db.sql.begin(async (tx) => {
      await deleteHost(tx, gone, new Date());
      await recordChanges(tx, new Date(), [{ kind: 'host', entityId: gone, op: 'delete', data: null }]);
    });
    hosts.splice(1, 1);
    await expectSameAnswers();
    expect(await cache.list({ hostId: gone }, { limit: 100 })).toEqual([]);
  });

  it('with notifications, a read after a commit’s notice waits for the tail read that notice started', async () => {
    const log = createLogger('silent');
    // A second replica's cache: it hears of the ingest's commits only through notifications.
    const replica = new VmCache({ sql: db.sql, log, notifier: createInProcessNotifier(log) });
    try {
      await replica.list({}, { limit: 1 }); // loads
      const hostId = hosts[0] as string;
      const id = randomUUID();
      const cursor = (cursors.get(hostId) ?? 0) + 1;
      cursors.set(hostId, cursor);
      const outcome = await ingest.applyBatch({ hostId, epoch: 1 }, [
        { cursor, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(id, 'noticed') } },
      ]);
      expect(outcome.kind).toBe('applied');
      replica.committed(); // the notification: a tail read starts
      // Asked at once, before that read returns: the answer holds the commit the notice was for.
      expect((await replica.get(id))?.name).toBe('noticed');
      expect(await replica.list({ hostId }, { limit: 100 })).toEqual(
        await listVms(db.sql, { hostId }, { limit: 100 }),
      );
    } finally {
      replica.close();
    }
  });

  it('a failed read loses nothing: changes read beside a failed liveness read apply, and after a failed tail read the next read tries again', async () => {
    const log = createLogger('silent');
    let now = Date.now();
    const replica = new VmCache({ sql: db.sql, log, notifier: createInProcessNotifier(log), now: () => now });
    const hostId = hosts[1] as string;
    const report = async (name: string) => {
      const id = randomUUID();
      const cursor = (cursors.get(hostId) ?? 0) + 1;
      cursors.set(hostId, cursor);
      const outcome = await ingest.applyBatch({ hostId, epoch: 1 }, [
        { cursor, observedAtMs: 0, change: { $case: 'vmUpdated', value: vm(id, name) } },
      ]);
      expect(outcome.kind).toBe('applied');
      return id;
    };
    try {
      await replica.list({}, { limit: 1 }); // loads
      // The liveness read (of `hosts`, due again) fails; the change log read beside it does not.
      const first = await report('beside-liveness');
      now += 5_000;
      await db.sql`alter table hosts rename to hosts_away`;
      try {
        replica.committed();
        await replica.catchUp();
      } finally {
        await db.sql`alter table hosts_away rename to hosts`;
      }
      expect((await replica.get(first))?.name).toBe('beside-liveness');

      // The change log read fails: the next read does not answer from memory, it reads again.
      const second = await report('after-failed-tail');
      await db.sql`alter table changes rename to changes_away`;
      try {
        replica.committed();
        await expect(replica.catchUp()).rejects.toThrow();
      } finally {
        await db.sql`alter table changes_away rename to changes`;
      }
      expect((await replica.get(second))?.name).toBe('after-failed-tail');
    } finally {
      replica.close();
    }
  });
});
