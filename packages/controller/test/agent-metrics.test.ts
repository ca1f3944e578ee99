import { randomUUID } from 'node:crypto';
import { HostSample, VM_FIELDS, VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, joinedHost, targetOf } from './support/agent-test-helpers.ts';
import { RealTimeClock } from './support/real-time-clock.ts';
import { ScriptedAgent, vm } from './support/scripted-agent.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

const PERIOD = 2_000;
const CPU = 1 << VM_FIELDS.cpuPercent;
const iso = (ms: number) => new Date(ms).toISOString();

// Samples over real gRPC into PostgreSQL and out through REST and /metrics: the agent's MetricsBatch
// messages as the sampler sends them, the controller's period in the Welcome.
describe('agent metrics, end to end', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await createTestApp({
      clock: new RealTimeClock(),
      env: { COCKPIT_METRICS_INTERVAL_MS: String(PERIOD) },
    });
    admin = await adminToken(t);
  });
  afterAll(async () => {
    expect(t?.logs.filter((l) => (l.level as number) >= 50).map((l) => l.msg)).toEqual([]);
    await t?.close();
  });

  const cpuSeries = async (vmId: string, fromMs: number, toMs: number) => {
    const res = await t.request(
      'GET',
      `/api/v1/vms/${vmId}/metrics?from=${iso(fromMs)}&to=${iso(toMs)}&step=2s&metrics=cpu_percent`,
      { token: admin },
    );
    expect(res.status, res.text).toBe(200);
    return res.body.series[0].points as Array<{ t: string; avg: number; max: number }>;
  };

  it('tells the agent its period, and serves the samples it sends through REST and /metrics', async () => {
    const { hostId, credential } = await joinedHost(t, admin, 'metrics-a');
    const { agent, welcome } = await ScriptedAgent.connect(targetOf(t), credential, {
      hostname: 'metrics-a',
    });
    expect(welcome.metricsIntervalMs).toBe(PERIOD);
    const vmId = randomUUID();
    await agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'busy') }]);
    await agent.next('ack');

    const start = Date.now() - (Date.now() % PERIOD) - 10 * PERIOD;
    const slots = [0, 1, 2, 3, 4].map((i) => start + i * PERIOD);
    // Slot 2: the VM restarted, the agent has no rate for it (a reset never shows as a negative rate).
    await agent.metrics({
      vms: slots.map((atMs, i) =>
        VmSample.fromPartial({ vmId, atMs, cpuPercent: 10 * (i + 1), presentFields: i === 2 ? 0 : CPU }),
      ),
      hosts: [
        HostSample.fromPartial({ atMs: slots[4], cpuPercent: 42, intervalMs: PERIOD, presentFields: 1 << 2 }),
      ],
    });

    const points = await eventually(
      'the samples in the REST series',
      () => cpuSeries(vmId, start, start + 5 * PERIOD),
      (p) => p.length === 4,
    );
    expect(points).toEqual(
      [0, 1, 3, 4].map((i) => ({ t: iso(start + i * PERIOD), avg: 10 * (i + 1), max: 10 * (i + 1) })),
    );

    const exposition = await (await fetch(`${t.url}/metrics`)).text();
    expect(exposition).toMatch(/^cockpit_agents_connected 1$/m);
    expect(exposition).toContain(`cockpit_host_sync_lag_entries{host_id="${hostId}"} 0`);
    expect(exposition).toContain(`cockpit_vm_cpu_usage_ratio{vm_id="${vmId}",host_id="${hostId}"} 0.5`);
    expect(exposition).toContain(`cockpit_host_cpu_usage_ratio{host_id="${hostId}"} 0.42`);
    agent.close();
  });

  it('keeps one series for a VM that migrated: its samples are the VM’s, whichever host sent them', async () => {
    const a = await joinedHost(t, admin, 'metrics-src');
    const b = await joinedHost(t, admin, 'metrics-dst');
    const vmId = randomUUID();
    const source = await ScriptedAgent.connect(targetOf(t), a.credential, { hostname: 'metrics-src' });
    await source.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'mover') }]);
    await source.agent.next('ack');
    const destination = await ScriptedAgent.connect(targetOf(t), b.credential, { hostname: 'metrics-dst' });

    const start = Date.now() - (Date.now() % PERIOD) - 10 * PERIOD;
    await source.agent.metrics({
      vms: [VmSample.fromPartial({ vmId, atMs: start, cpuPercent: 5, presentFields: CPU })],
    });
    // On the destination the first reading has no rate, then rates again.
    await destination.agent.metrics({
      vms: [
        VmSample.fromPartial({ vmId: vmId.toUpperCase(), atMs: start + PERIOD, presentFields: 0 }),
        VmSample.fromPartial({ vmId, atMs: start + 2 * PERIOD, cpuPercent: 7, presentFields: CPU }),
      ],
    });
    const points = await eventually(
      'both hosts’ samples in one series',
      () => cpuSeries(vmId, start, start + 3 * PERIOD),
      (p) => p.length === 2,
    );
    expect(points).toEqual([
      { t: iso(start), avg: 5, max: 5 },
      { t: iso(start + 2 * PERIOD), avg: 7, max: 7 },
    ]);
    source.agent.close();
    destination.agent.close();
  });
});
