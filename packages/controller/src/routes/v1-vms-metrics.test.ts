import { VM_FIELDS, type VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, hostWithVms } from '../../test/support/agent-test-helpers.ts';
import type { ScriptedAgent } from '../../test/support/scripted-agent.ts';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import { ManualClock } from '../clock.ts';

const VM = '6f1b1a0e-2c4d-4e8f-9a1b-000000000001';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// Samples every 10 s over the two hours before NOW; the cpu is the minute of the hour (0-59).
const T0 = Date.UTC(2026, 2, 2, 10);
const NOW = T0 + 2 * HOUR + 30_000;
const iso = (ms: number) => new Date(ms).toISOString();

const sample = (atMs: number): VmSample =>
  ({
    vmId: VM,
    atMs,
    cpuPercent: new Date(atMs).getUTCMinutes(),
    memoryRssBytes: 1024,
    netRxBps: (atMs / 10_000) % 2, // 0, 1, 0, 1…: average 0.5, maximum 1 per minute
    presentFields: (1 << VM_FIELDS.cpuPercent) | (1 << VM_FIELDS.memoryRssBytes) | (1 << VM_FIELDS.netRxBps),
  }) as VmSample;

describe('GET /api/v1/vms/:id/metrics', () => {
  let t: TestApp;
  let viewer: string;
  let agent: ScriptedAgent;
  const series = (query: string) => t.request('GET', `/api/v1/vms/${VM}/metrics?${query}`, { token: viewer });

  beforeAll(async () => {
    t = await createTestApp({ clock: new ManualClock(NOW) });
    viewer = (await t.userWithRole('viewer')).tokens.token;
    // The VM held on its host (reported by its agent), whose samples ingest takes as its stream does.
    let hostId: string;
    ({ hostId, agent } = await hostWithVms(t, await adminToken(t), 'node-a', [VM]));
    const vms: VmSample[] = [];
    for (let at = T0; at < T0 + 2 * HOUR; at += 10_000) vms.push(sample(at));
    t.services.metricIngest.accept(hostId, { hosts: [], vms });
    await t.services.metricIngest.flush();
    // The app's own maintenance ran at its start (before these samples): a run of ours rolls them up.
    while (!(await t.services.metricMaintenance.runOnce()).ran) await t.services.metricMaintenance.stop();
  });
  afterAll(async () => {
    agent?.close();
    await t?.close();
  });

  it('answers raw samples for a step under a minute: aligned to the step, with units, only the metrics asked', async () => {
    const res = await series(
      `from=${iso(T0 + 5_000)}&to=${iso(T0 + 40_000)}&step=10s&metrics=cpu_percent,net_rx_bps`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      vm_id: VM,
      // `from` moved back to a whole step.
      from: iso(T0),
      to: iso(T0 + 40_000),
      step_seconds: 10,
      tier: 'raw',
      resolution_seconds: 10,
      series: [
        {
          metric: 'cpu_percent',
          unit: 'percent',
          description: expect.any(String),
          points: [0, 1, 2, 3].map((i) => ({ t: iso(T0 + i * 10_000), avg: 0, max: 0 })),
        },
        {
          metric: 'net_rx_bps',
          unit: 'bytes_per_second',
          description: expect.any(String),
          points: [0, 1, 2, 3].map((i) => ({ t: iso(T0 + i * 10_000), avg: i % 2, max: i % 2 })),
        },
      ],
    });
  });

  it('reads 1-minute rollups for steps of minutes, combining them per step', async () => {
    const res = await series(
      `from=${iso(T0)}&to=${iso(T0 + 10 * MINUTE)}&step=5m&metrics=cpu_percent,net_rx_bps`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tier: '1m', resolution_seconds: 60, step_seconds: 300 });
    expect(res.body.series[0].points).toEqual([
      { t: iso(T0), avg: 2, max: 4 },
      { t: iso(T0 + 5 * MINUTE), avg: 7, max: 9 },
    ]);
    expect(res.body.series[1].points).toEqual([
      { t: iso(T0), avg: 0.5, max: 1 },
      { t: iso(T0 + 5 * MINUTE), avg: 0.5, max: 1 },
    ]);
  });

  it('reads 1-hour rollups for a step of an hour or more; unix seconds work as times', async () => {
    const res = await series(`from=${T0 / 1000}&to=${(T0 + 2 * HOUR) / 1000}&step=1h&metrics=cpu_percent`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tier: '1h', resolution_seconds: 3600, from: iso(T0) });
    expect(res.body.series[0].points).toEqual([
      { t: iso(T0), avg: 29.5, max: 59 },
      { t: iso(T0 + HOUR), avg: 29.5, max: 59 },
    ]);
  });

  it('defaults to every metric over the last hour, at a step giving at most 1,000 points', async () => {
    const res = await series('');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      from: iso(NOW - HOUR),
      step_seconds: 10,
      tier: 'raw',
    });
    expect(res.body.series.map((s: { metric: string }) => s.metric)).toContain('memory_usable_bytes');
    // Metrics the agent had no value for have no points.
    expect(
      res.body.series.find((s: { metric: string }) => s.metric === 'memory_usable_bytes').points,
    ).toEqual([]);
    expect(
      res.body.series.find((s: { metric: string }) => s.metric === 'memory_rss_bytes').points.length,
    ).toBe(357);
  });

  it('answers 24 hours at 10 s (8,640 points) but refuses more than 11,000 points with too_many_points', async () => {
    expect((await series(`from=${iso(NOW - 24 * HOUR)}&to=${iso(NOW)}&step=10s`)).status).toBe(200);
    const res = await series(`from=${iso(NOW - 48 * HOUR)}&to=${iso(NOW)}&step=10s`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('too_many_points');
    expect(res.body.error.message).toMatch(/17280 points of 10 s asked; at most 11000/);
  });

  it('reads a coarser tier when the finer one no longer holds `from`', async () => {
    const res = await series(`from=${iso(NOW - 3 * 24 * HOUR)}&to=${iso(NOW)}&step=1m&metrics=cpu_percent`);
    expect(res.status).toBe(200);
    expect(res.body.tier).toBe('1m');
    const old = await series(`from=${iso(NOW - 30 * 24 * HOUR)}&to=${iso(NOW)}&step=1h&metrics=cpu_percent`);
    expect(old.body.tier).toBe('1h');
    const coarse = await series(
      `from=${iso(NOW - 2 * 24 * HOUR)}&to=${iso(NOW)}&step=30s&metrics=cpu_percent`,
    );
    // Raw samples are kept a day: the 1-minute tier answers, one point a minute.
    expect(coarse.body).toMatchObject({ tier: '1m', step_seconds: 30, resolution_seconds: 60 });
    expect(coarse.body.series[0].points.slice(0, 2)).toEqual([
      { t: iso(T0), avg: 0, max: 0 },
      { t: iso(T0 + MINUTE), avg: 1, max: 1 },
    ]);
  });

  it('takes the VM id in any letter case', async () => {
    const res = await t.request('GET', `/api/v1/vms/${VM.toUpperCase()}/metrics?step=1h`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body.vm_id).toBe(VM);
  });

  it('answers 404 for an unknown VM, 400 for a malformed id', async () => {
    const missing = await t.request('GET', '/api/v1/vms/6f1b1a0e-2c4d-4e8f-9a1b-0000000000ff/metrics', {
      token: viewer,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const malformed = await t.request('GET', '/api/v1/vms/web-1/metrics', { token: viewer });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details).toEqual([{ path: 'path.id', message: 'must be a VM id (UUID)' }]);
  });

  it.each([
    ['from=yesterday', 'query.from', /RFC 3339/],
    // Times PostgreSQL cannot store: a 12-digit unix time (year 33658), year 0, past 9999 by its offset.
    ['from=999999999999', 'query.from', /between 0001-01-01T00:00:00Z and 9999/],
    ['to=0000-01-01T01:00:00Z', 'query.to', /between 0001/],
    ['to=9999-12-31T23:59:59-23:59', 'query.to', /between 0001/],
    ['from=2026-03-02T12:00:00Z&to=2026-03-02T11:00:00Z', 'query.from', /before `to`/],
    // `to` left to its default (now): checked by the service, named all the same.
    ['from=9999-01-01T00:00:00Z', 'query.from', /before `to` \(.*, now\)/],
    ['step=0s', 'query.step', /duration/],
    ['step=5 minutes', 'query.step', /duration/],
    ['metrics=cpu_percent,load', 'query.metrics', /unknown metric load; known: cpu_percent, /],
    ['metrics=memory_total_bytes', 'query.metrics', /unknown metric memory_total_bytes/],
  ])('refuses %s with validation_failed naming %s', async (query, path, message) => {
    const res = await series(query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([{ path, message: expect.stringMatching(message) }]);
  });

  it('needs a token; any role may read', async () => {
    expect((await t.request('GET', `/api/v1/vms/${VM}/metrics`)).status).toBe(401);
  });
});
