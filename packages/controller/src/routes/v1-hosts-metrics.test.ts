import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';

const HOST = '019e0014-abcd-7057-b326-000000000001';
const T0 = Date.UTC(2026, 2, 2, 10);
const iso = (ms: number) => new Date(ms).toISOString();

// The VM route's tests cover tiers, steps and validation (one implementation serves both); these cover
// what is the host's own: its metric names and units, its id.
describe('GET /api/v1/hosts/:id/metrics', () => {
  let t: TestApp;
  let viewer: string;

  beforeAll(async () => {
    t = await createTestApp({ clock: new ManualClock(T0 + 60_000) });
    viewer = (await t.userWithRole('viewer')).tokens.token;
    await t.sql`insert into hosts (id, hostname, status) values (${HOST}, 'node-a', 'connected')`;
    t.services.metricIngest.accept(HOST, {
      vms: [],
      hosts: [0, 1, 2].map((i) => ({
        atMs: T0 + i * 10_000,
        cpuPercent: 10 * (i + 1),
        memoryTotalBytes: 2 ** 30,
        memoryUsedBytes: 2 ** 29,
        memoryAvailableBytes: 2 ** 29,
        intervalMs: 10_000,
        presentFields: 0b111100,
      })),
    });
    await t.services.metricIngest.flush();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers the host’s samples, with its metric names and units', async () => {
    const res = await t.request(
      'GET',
      `/api/v1/hosts/${HOST.toUpperCase()}/metrics?from=${iso(T0)}&to=${iso(T0 + 30_000)}&step=10s`,
      { token: viewer },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ host_id: HOST, tier: 'raw', step_seconds: 10 });
    expect(res.body.series.map((s: { metric: string; unit: string }) => [s.metric, s.unit])).toEqual([
      ['cpu_percent', 'percent'],
      ['memory_total_bytes', 'bytes'],
      ['memory_used_bytes', 'bytes'],
      ['memory_available_bytes', 'bytes'],
    ]);
    expect(res.body.series[0].points).toEqual([
      { t: iso(T0), avg: 10, max: 10 },
      { t: iso(T0 + 10_000), avg: 20, max: 20 },
      { t: iso(T0 + 20_000), avg: 30, max: 30 },
    ]);
    // Kept as `real`: seven significant digits.
    const memory = res.body.series[1].points[0];
    expect(memory.avg / 2 ** 30).toBeCloseTo(1, 6);
    expect(memory.max / 2 ** 30).toBeCloseTo(1, 6);
  });

  it('refuses VM metric names, and answers 404 for an unknown host', async () => {
    const vmMetric = await t.request('GET', `/api/v1/hosts/${HOST}/metrics?metrics=disk_read_bps`, {
      token: viewer,
    });
    expect(vmMetric.status).toBe(400);
    expect(vmMetric.body.error.details[0].path).toBe('query.metrics');
    const missing = await t.request('GET', '/api/v1/hosts/019e0014-abcd-7057-b326-0000000000ff/metrics', {
      token: viewer,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });
});
