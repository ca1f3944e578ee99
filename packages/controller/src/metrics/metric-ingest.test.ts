import { HostSample, VM_FIELDS, VmSample } from '@cockpit/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldVms } from '../../test/support/held-vms.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { ManualClock } from '../clock.ts';
import { MetricIngest, type MetricIngestDeps } from './metric-ingest.ts';
import { dropPartition, partitionName } from './metric-partitions.ts';
import { floorTo, TIERS, tableOf } from './metric-tiers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RETENTION = { raw: DAY, '1m': 7 * DAY, '1h': 90 * DAY };
const NOW = Date.UTC(2026, 2, 2, 12);
const VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const HOST = '019e0014-abcd-7057-b326-000000000001';
// Another host and its VM; a VM no host holds.
const OTHER = '019e0014-abcd-7057-b326-000000000002';
const OTHER_VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000002';
const UNKNOWN_VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000003';

const cpu = (vmId: string, atMs: number) =>
  VmSample.fromPartial({ vmId, atMs, cpuPercent: 1, presentFields: 1 << VM_FIELDS.cpuPercent });

// What ingest refuses, and that a re-sent sample is stored once. The VMs are held on their hosts as the
// controller holds them: reported through the sync ingest, read by the VM cache.
describe('metric ingest', () => {
  let db: TestDatabase;
  let held: ReturnType<typeof heldVms>;
  const log = pino({ level: 'silent' });
  const ingestOf = (deps: Partial<MetricIngestDeps> = {}) =>
    new MetricIngest({
      sql: db.sql,
      clock: new ManualClock(NOW),
      log,
      retention: RETENTION,
      owners: held.cache,
      ...deps,
    });
  const vmRows = (vmId: string) =>
    db.sql<
      { vm_id: string; at: Date }[]
    >`select vm_id, at from metric_vm_raw where vm_id = ${vmId} order by at`;

  beforeAll(async () => {
    db = await createTestDatabase();
    held = heldVms(db.sql, new ManualClock(NOW));
    await held.place(HOST, [VM]);
    await held.place(OTHER, [OTHER_VM]);
  });
  afterAll(async () => {
    held?.close();
    await db?.drop();
  });

  it('drops malformed ids and samples outside [now − raw retention, now + 1 h], counting why', async () => {
    const ingest = ingestOf();
    ingest.accept(HOST, {
      hosts: [],
      vms: [
        cpu('not-a-uuid', NOW),
        cpu(VM, NOW - DAY - 1),
        cpu(VM, NOW + HOUR + 1),
        cpu(VM, Number.NaN),
        cpu(VM.toUpperCase(), NOW - DAY),
        cpu(VM, NOW + HOUR),
      ],
    });
    await ingest.flush();
    expect(ingest.stats).toMatchObject({
      received: 6,
      written: 2,
      dropped: { invalid: 1, outOfRange: 3, overflow: 0, failed: 0, foreign: 0 },
    });
    expect(await vmRows(VM)).toEqual([
      { vm_id: VM, at: new Date(NOW - DAY) },
      { vm_id: VM, at: new Date(NOW + HOUR) },
    ]);
  });

  // A raw partition at the retention's edge: its hour starts 23 h 30 min before NOW.
  const EDGE = floorTo(NOW - DAY + HOUR, HOUR) - 30 * 60_000;
  const dropEdgePartition = () =>
    db.sql.begin((tx) =>
      dropPartition(tx, partitionName(tableOf('vm', 'raw'), floorTo(EDGE, TIERS.raw.partitionMs))),
    );

  it('writes a flush whose oldest sample aged past retention while buffered, its partition dropped since', async () => {
    const clock = new ManualClock(NOW);
    const ingest = ingestOf({ clock });
    // Seen once: the partition is created and known to this ingest.
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, EDGE)] });
    await ingest.flush();
    // Buffered while still inside the retention...
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, EDGE + 1000), cpu(VM, NOW - 1000)] });
    // ...then the hour passes it and retention drops its partition before the flush.
    clock.advance(HOUR);
    await dropEdgePartition();
    await ingest.flush();
    expect(ingest.stats).toMatchObject({
      written: 2,
      dropped: { invalid: 0, outOfRange: 1, overflow: 0, failed: 0, foreign: 0 },
    });
    expect(await vmRows(VM)).toContainEqual({ vm_id: VM, at: new Date(NOW - 1000) });
  });

  it('writes a flush once more when a partition it had seen was dropped by another replica', async () => {
    const ingest = ingestOf();
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, EDGE)] });
    await ingest.flush();
    // Another replica, its clock an hour ahead, dropped the partition this one still counts as kept.
    await dropEdgePartition();
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, EDGE + 2000), cpu(VM, NOW - 2000)] });
    await ingest.flush();
    expect(ingest.stats).toMatchObject({ written: 3, dropped: { failed: 0, outOfRange: 0 } });
    const rows = await vmRows(VM);
    expect(rows).toContainEqual({ vm_id: VM, at: new Date(EDGE + 2000) });
    expect(rows).toContainEqual({ vm_id: VM, at: new Date(NOW - 2000) });
  });

  it('stores a re-sent sample once, and refuses what would pass its buffer bound', async () => {
    const ingest = ingestOf({ maxBuffered: 2 });
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, NOW - 10_000), cpu(VM, NOW - 10_000)] });
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, NOW - 20_000)] });
    expect(ingest.pending).toBe(2);
    await ingest.flush();
    expect(ingest.stats.dropped.overflow).toBe(1);
    expect(
      await db.sql`select count(*)::int as n from metric_vm_raw where at = ${new Date(NOW - 10_000)}`,
    ).toEqual([{ n: 1 }]);
  });

  it('keeps a host’s samples only for the VMs held on it: another host’s and unknown VMs’ are dropped as foreign', async () => {
    const lines: Array<{ level: number; msg: string; hostId?: string; samples?: number; vmIds?: string[] }> =
      [];
    const clock = new ManualClock(NOW);
    const ingest = ingestOf({
      clock,
      log: pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) }),
    });
    const at = NOW - 30_000;
    // The stream's host id spelled in upper case still names HOST: ids are compared as values.
    ingest.accept(HOST.toUpperCase(), {
      hosts: [HostSample.fromPartial({ atMs: at, cpuPercent: 3, presentFields: 1 << 2 })],
      vms: [cpu(VM, at), cpu(OTHER_VM, at), cpu(OTHER_VM, at + 1), cpu(UNKNOWN_VM, at)],
    });
    ingest.accept(OTHER, { hosts: [], vms: [cpu(OTHER_VM, at + 2)] });
    await ingest.flush();
    expect(ingest.stats).toMatchObject({
      received: 6,
      written: 3,
      dropped: { invalid: 0, outOfRange: 0, overflow: 0, failed: 0, foreign: 3 },
    });
    expect(await vmRows(VM)).toContainEqual({ vm_id: VM, at: new Date(at) });
    expect(await vmRows(OTHER_VM)).toEqual([{ vm_id: OTHER_VM, at: new Date(at + 2) }]);
    expect(await vmRows(UNKNOWN_VM)).toEqual([]);
    // A host's own samples are keyed by the stream's host, whatever else it sends.
    expect(
      await db.sql`select count(*)::int as n from metric_host_raw where host_id = ${HOST} and at = ${new Date(at)}`,
    ).toEqual([{ n: 1 }]);
    // The gauges of /metrics: only the samples kept, each with its host.
    expect(
      ingest.latest
        .currentVms(NOW)
        .map((e) => [e.sample.vmId, e.hostId.toLowerCase(), e.sample.atMs])
        .sort(),
    ).toEqual([
      [VM, HOST, at],
      [OTHER_VM, OTHER, at + 2],
    ]);

    // One warning per host and minute, whatever the number of flushes: the next in the same minute is
    // counted but not logged; the one after a minute carries the count since the last.
    const warned = () => lines.filter((l) => l.level === 40);
    expect(warned()).toEqual([
      expect.objectContaining({
        hostId: HOST,
        samples: 3,
        vmIds: [OTHER_VM, UNKNOWN_VM],
      }),
    ]);
    ingest.accept(HOST, { hosts: [], vms: [cpu(OTHER_VM, at + 3)] });
    await ingest.flush();
    clock.advance(59_000);
    ingest.accept(HOST, { hosts: [], vms: [cpu(OTHER_VM, at + 4)] });
    await ingest.flush();
    expect(warned()).toHaveLength(1);
    clock.advance(1_000);
    ingest.accept(HOST, { hosts: [], vms: [cpu(UNKNOWN_VM, at + 5)] });
    await ingest.flush();
    expect(warned()).toHaveLength(2);
    expect(warned()[1]).toMatchObject({ hostId: HOST, samples: 3, vmIds: [UNKNOWN_VM] });
    expect(ingest.stats.dropped.foreign).toBe(6);
    expect(await vmRows(OTHER_VM)).toEqual([{ vm_id: OTHER_VM, at: new Date(at + 2) }]);
  });
});
