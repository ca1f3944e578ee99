import { randomUUID } from 'node:crypto';
import { type MetricsBatch, VM_FIELDS, type VmSample } from '@cockpit/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { heldVms } from '../../test/support/held-vms.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { ManualClock } from '../clock.ts';
import { MetricIngest } from './metric-ingest.ts';
import { createMetricMaintenance, type MetricMaintenance } from './metric-maintenance.ts';
import { listPartitions } from './metric-partitions.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RETENTION = { raw: DAY, '1m': 7 * DAY, '1h': 90 * DAY };
// A Monday 00:00 UTC: minutes, hours and partitions start on round numbers.
const T0 = Date.UTC(2026, 2, 2);

const cpuOnly = (vmId: string, atMs: number, cpuPercent: number): VmSample =>
  ({ vmId, atMs, cpuPercent, presentFields: 1 << VM_FIELDS.cpuPercent }) as VmSample;

/** Rollups and retention against PostgreSQL, with the clock set by the test. */
describe('metric rollups and retention', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let ingest: MetricIngest;
  let maintenance: MetricMaintenance;
  /** Ingest keeps a VM's samples only from the host holding it: each test's VM is placed on its host. */
  let held: ReturnType<typeof heldVms>;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase();
    held = heldVms(db.sql, new ManualClock(T0));
  });
  afterAll(async () => {
    held?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    // Each test starts from empty tables and rollups that never ran.
    for (const subject of ['vm', 'host'] as const) {
      for (const tier of ['raw', '1m', '1h'] as const) {
        for (const p of await listPartitions(db.sql, subject, tier))
          await db.sql.unsafe(`drop table ${p.name}`);
      }
    }
    await db.sql`update metric_rollup_state set done_until = null`;
    await db.sql`delete from metric_rollup_pending`;
    clock = new ManualClock(T0);
    ingest = new MetricIngest({ sql: db.sql, clock, log, retention: RETENTION, owners: held.cache });
    maintenance = createMetricMaintenance({
      sql: db.sql,
      clock,
      log,
      retention: RETENTION,
      settleMs: 15_000,
    });
  });

  const send = async (hostId: string, batch: Partial<MetricsBatch>) => {
    ingest.accept(hostId, { hosts: [], vms: [], ...batch });
    await ingest.flush();
  };
  const minuteRows = (vmId: string) =>
    db.sql<{ at: Date; cpu_percent_avg: number; cpu_percent_max: number }[]>`
      select at, cpu_percent_avg, cpu_percent_max from metric_vm_1m where vm_id = ${vmId} order by at`;

  it('rolls each finished minute into its average and maximum, once the minute has settled', async () => {
    const vm = randomUUID();
    const host = randomUUID();
    await held.place(host, [vm]);
    // Minute 0: 10, 20, 30, 40, 50, 60 (avg 35, max 60); minute 1: 5 and a sample without a value.
    const samples = [10, 20, 30, 40, 50, 60].map((v, i) => cpuOnly(vm, T0 + i * 10_000, v));
    samples.push(cpuOnly(vm, T0 + MINUTE, 5), { ...cpuOnly(vm, T0 + MINUTE + 10_000, 0), presentFields: 0 });
    clock.advance(MINUTE + 20_000);
    await send(host, { vms: samples });

    const run = await maintenance.runOnce();
    expect(run.ran).toBe(true);
    // 01:20 minus 15 s of settling: minute 0 is done, minute 1 (still receiving) is not.
    expect(await minuteRows(vm)).toEqual([{ at: new Date(T0), cpu_percent_avg: 35, cpu_percent_max: 60 }]);

    clock.advance(MINUTE);
    await maintenance.runOnce();
    expect(await minuteRows(vm)).toEqual([
      { at: new Date(T0), cpu_percent_avg: 35, cpu_percent_max: 60 },
      // The sample without a value counts for neither.
      { at: new Date(T0 + MINUTE), cpu_percent_avg: 5, cpu_percent_max: 5 },
    ]);
  });

  it('computes a minute again when samples arrive after it was rolled up (an agent’s backlog)', async () => {
    const vm = randomUUID();
    const host = randomUUID();
    await held.place(host, [vm]);
    clock.advance(3 * MINUTE);
    await send(host, { vms: [cpuOnly(vm, T0, 10)] });
    await maintenance.runOnce();
    expect(await minuteRows(vm)).toEqual([{ at: new Date(T0), cpu_percent_avg: 10, cpu_percent_max: 10 }]);

    // The backlog of a reconnected agent: the rest of minute 0, long after it was rolled up.
    clock.advance(20 * MINUTE);
    await send(host, { vms: [cpuOnly(vm, T0 + 10_000, 30), cpuOnly(vm, T0 + 20_000, 50)] });
    const run = await maintenance.runOnce();
    expect(run.rolledUp['1m'].ranges).toContainEqual({ fromMs: T0, toMs: T0 + MINUTE });
    expect(await minuteRows(vm)).toEqual([{ at: new Date(T0), cpu_percent_avg: 30, cpu_percent_max: 50 }]);
  });

  it('rolls finished hours from their minutes: average of the minute averages, maximum of the maxima', async () => {
    const vm = randomUUID();
    const host = randomUUID();
    await held.place(host, [vm]);
    // Hour 0: minute m has samples m and 2m (avg 1.5m, max 2m) for m = 0..59.
    const samples: VmSample[] = [];
    for (let m = 0; m < 60; m++) {
      samples.push(cpuOnly(vm, T0 + m * MINUTE, m), cpuOnly(vm, T0 + m * MINUTE + 30_000, 2 * m));
    }
    clock.advance(HOUR + MINUTE);
    await send(host, { vms: samples });
    await maintenance.runOnce();
    const hours =
      await db.sql`select at, cpu_percent_avg, cpu_percent_max from metric_vm_1h where vm_id = ${vm}`;
    // The minute averages 0, 1.5, …, 88.5 average to 44.25; the largest maximum is 118.
    expect(hours).toEqual([{ at: new Date(T0), cpu_percent_avg: 44.25, cpu_percent_max: 118 }]);
  });

  it('keeps host samples beside VM samples, with every field the agent sent', async () => {
    const host = randomUUID();
    clock.advance(2 * MINUTE);
    await send(host, {
      hosts: [
        {
          atMs: T0,
          cpuPercent: 12.5,
          memoryTotalBytes: 2 ** 34,
          memoryUsedBytes: 2 ** 33,
          memoryAvailableBytes: 2 ** 33,
          intervalMs: 10_000,
          presentFields: 0b111100,
        },
      ],
    });
    await maintenance.runOnce();
    const [row] = await db.sql`select * from metric_host_raw where host_id = ${host}`;
    expect(row).toMatchObject({ host_id: host, at: new Date(T0), cpu_percent: 12.5 });
    // Stored as `real`: seven significant digits.
    expect(row?.memory_total_bytes / 2 ** 34).toBeCloseTo(1, 6);
    expect(row?.memory_used_bytes / 2 ** 33).toBeCloseTo(1, 6);
    expect(row?.memory_available_bytes / 2 ** 33).toBeCloseTo(1, 6);
    expect(await db.sql`select at, cpu_percent_avg from metric_host_1m where host_id = ${host}`).toEqual([
      { at: new Date(T0), cpu_percent_avg: 12.5 },
    ]);
  });

  it('drops each tier past its retention, and keeps everything younger', async () => {
    const vm = randomUUID();
    const host = randomUUID();
    await held.place(host, [vm]);
    // A sample every 10 minutes for two days, sent as it is taken; maintenance every 10 minutes.
    for (let at = T0; at < T0 + 2 * DAY; at += 10 * MINUTE) {
      clock.advance(at + 10_000 - clock.now().getTime());
      await send(host, { vms: [cpuOnly(vm, at, 1)] });
      await maintenance.runOnce();
    }
    const nowMs = clock.now().getTime();
    const oldestRaw = await db.sql<{ min: Date }[]>`select min(at) from metric_vm_raw where vm_id = ${vm}`;
    // Raw: nothing a whole partition (an hour) past the 24 hours, nothing younger than them gone.
    const rawOldest = oldestRaw[0]?.min.getTime() ?? 0;
    expect(rawOldest).toBeGreaterThanOrEqual(nowMs - DAY - HOUR);
    expect(rawOldest).toBeLessThanOrEqual(nowMs - DAY);
    const [raw] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from metric_vm_raw where vm_id = ${vm} and at >= ${new Date(nowMs - DAY)}`;
    expect(raw?.n).toBe(DAY / (10 * MINUTE));
    // The rollups still hold the first day; the last sample's minute has not settled yet.
    const [minutes] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from metric_vm_1m where vm_id = ${vm}`;
    expect(minutes?.n).toBe((2 * DAY) / (10 * MINUTE) - 1);
    const [hours] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from metric_vm_1h where vm_id = ${vm}`;
    expect(hours?.n).toBe(47);
    // An hour later the last hour is rolled up too.
    clock.advance(HOUR);
    await maintenance.runOnce();
    expect(await db.sql`select count(*)::int as n from metric_vm_1h where vm_id = ${vm}`).toEqual([
      { n: 48 },
    ]);

    // Eight days on, the 1-minute tier has dropped its first days; the 1-hour tier keeps them.
    clock.advance(8 * DAY);
    await maintenance.runOnce();
    expect(await db.sql`select count(*)::int as n from metric_vm_raw`).toEqual([{ n: 0 }]);
    expect(await db.sql`select count(*)::int as n from metric_vm_1m`).toEqual([{ n: 0 }]);
    expect(await db.sql`select count(*)::int as n from metric_vm_1h where vm_id = ${vm}`).toEqual([
      { n: 48 },
    ]);
    clock.advance(91 * DAY);
    await maintenance.runOnce();
    expect(await db.sql`select count(*)::int as n from metric_vm_1h`).toEqual([{ n: 0 }]);
  });

  it('runs on one replica at a time: a second run at the same moment does nothing', async () => {
    const other = createMetricMaintenance({ sql: db.sql, clock, log, retention: RETENTION });
    const runs = await Promise.all([maintenance.runOnce(), other.runOnce(), maintenance.runOnce()]);
    expect(runs.filter((r) => r.ran).length).toBeGreaterThanOrEqual(1);
    expect(runs.filter((r) => !r.ran).length).toBeGreaterThanOrEqual(1);
  });

  it('loses no sample to a rollup running while ingest writes (the lock handshake)', async () => {
    const vm = randomUUID();
    const host = randomUUID();
    await held.place(host, [vm]);
    // Both minutes have settled: the first rollup takes them while samples are still arriving.
    clock.advance(2 * MINUTE + 30_000);
    const written: number[] = [];
    // Writers and rollups interleave; every sample lands in minute 0 or 1, rolled up while they arrive.
    const writers = (async () => {
      for (let i = 0; i < 60; i++) {
        written.push(i);
        ingest.accept(host, { hosts: [], vms: [cpuOnly(vm, T0 + i * 1000 + (i % 2) * MINUTE, i)] });
        await ingest.flush();
      }
    })();
    const rollups = (async () => {
      for (let i = 0; i < 20; i++) await maintenance.runOnce();
    })();
    await Promise.all([writers, rollups]);
    await maintenance.runOnce();
    const expected = await db.sql<{ at: Date; avg: number; max: number }[]>`
      select date_bin('1 minute', at, timestamptz 'epoch') as at, avg(cpu_percent)::real as avg, max(cpu_percent) as max
      from metric_vm_raw where vm_id = ${vm} group by 1 order by 1`;
    expect(expected.length).toBe(2);
    expect(
      (await minuteRows(vm)).map((r) => ({ at: r.at, avg: r.cpu_percent_avg, max: r.cpu_percent_max })),
    ).toEqual(expected);
  });
});
