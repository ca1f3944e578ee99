import { VM_FIELDS, VmSample } from '@cockpit/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { ManualClock } from '../clock.ts';
import { MetricIngest } from './metric-ingest.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RETENTION = { raw: DAY, '1m': 7 * DAY, '1h': 90 * DAY };
const NOW = Date.UTC(2026, 2, 2, 12);
const VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const HOST = '019e0014-abcd-7057-b326-000000000001';

const cpu = (vmId: string, atMs: number) =>
  VmSample.fromPartial({ vmId, atMs, cpuPercent: 1, presentFields: 1 << VM_FIELDS.cpuPercent });

// What ingest refuses, and that a re-sent sample is stored once.
describe('metric ingest', () => {
  let db: TestDatabase;
  const log = pino({ level: 'silent' });
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('drops malformed ids and samples outside [now − raw retention, now + 1 h], counting why', async () => {
    const ingest = new MetricIngest({ sql: db.sql, clock: new ManualClock(NOW), log, retention: RETENTION });
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
      dropped: { invalid: 1, outOfRange: 3, overflow: 0, failed: 0 },
    });
    const rows = await db.sql<{ vm_id: string; at: Date }[]>`select vm_id, at from metric_vm_raw order by at`;
    expect(rows).toEqual([
      { vm_id: VM, at: new Date(NOW - DAY) },
      { vm_id: VM, at: new Date(NOW + HOUR) },
    ]);
  });

  it('stores a re-sent sample once, and refuses what would pass its buffer bound', async () => {
    const ingest = new MetricIngest({
      sql: db.sql,
      clock: new ManualClock(NOW),
      log,
      retention: RETENTION,
      maxBuffered: 2,
    });
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, NOW - 10_000), cpu(VM, NOW - 10_000)] });
    ingest.accept(HOST, { hosts: [], vms: [cpu(VM, NOW - 20_000)] });
    expect(ingest.pending).toBe(2);
    await ingest.flush();
    expect(ingest.stats.dropped.overflow).toBe(1);
    expect(
      await db.sql`select count(*)::int as n from metric_vm_raw where at = ${new Date(NOW - 10_000)}`,
    ).toEqual([{ n: 1 }]);
  });
});
