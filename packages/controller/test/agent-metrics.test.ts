import { randomUUID } from 'node:crypto';
import { HostSample, VM_FIELDS, VmRemovalReason, VmSample } from '@cockpit/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, eventually, hostWithVms, joinedHost, targetOf } from './support/agent-test-helpers.ts';
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

  /** The samples dropped so far because their sender does not hold their VM, as /metrics counts them. */
  const foreignDropped = async () => {
    const exposition = await (await fetch(`${t.url}/metrics`)).text();
    const m = /^cockpit_metric_samples_dropped_total\{reason="foreign"\} (\d+)$/m.exec(exposition);
    expect(m, 'the foreign reason in /metrics').not.toBeNull();
    return Number(m?.[1]);
  };
  const cpu = (vmId: string, atMs: number, cpuPercent: number) =>
    VmSample.fromPartial({ vmId, atMs, cpuPercent, presentFields: CPU });

  it('keeps an agent’s samples only for the VMs held on its host: another host’s VM’s are dropped and counted', async () => {
    const ownVm = randomUUID();
    const theirVm = randomUUID();
    const a = await hostWithVms(t, admin, 'metrics-own', [ownVm]);
    const b = await hostWithVms(t, admin, 'metrics-their', [theirVm]);
    const foreignBefore = await foreignDropped();
    const start = Date.now() - (Date.now() % PERIOD) - 10 * PERIOD;
    // Host A writes its own VM, and tries host B's (a value B never sends) and a VM no host holds.
    await a.agent.metrics({
      vms: [cpu(ownVm, start, 11), cpu(theirVm, start, 99), cpu(randomUUID(), start, 1)],
    });
    await b.agent.metrics({ vms: [cpu(theirVm, start + PERIOD, 22)] });

    expect(
      await eventually(
        'B’s sample in its VM’s series',
        () => cpuSeries(theirVm, start, start + 2 * PERIOD),
        (p) => p.length > 0,
      ),
    ).toEqual([{ t: iso(start + PERIOD), avg: 22, max: 22 }]);
    expect(
      await eventually('two foreign samples counted', foreignDropped, (n) => n >= foreignBefore + 2),
    ).toBe(foreignBefore + 2);
    // Counted after the flush that wrote the rest of A's batch: B's VM has no sample at A's time.
    expect(await cpuSeries(theirVm, start, start + 2 * PERIOD)).toEqual([
      { t: iso(start + PERIOD), avg: 22, max: 22 },
    ]);
    expect(await cpuSeries(ownVm, start, start + PERIOD)).toEqual([{ t: iso(start), avg: 11, max: 11 }]);
    // The gauges too: B's VM is shown with B's value, under B.
    const exposition = await (await fetch(`${t.url}/metrics`)).text();
    expect(exposition).toContain(`cockpit_vm_cpu_usage_ratio{vm_id="${theirVm}",host_id="${b.hostId}"} 0.22`);
    expect(exposition).not.toContain(`cockpit_vm_cpu_usage_ratio{vm_id="${theirVm}",host_id="${a.hostId}"}`);
    // One warning naming the sending host, not one per sample.
    const warnings = t.logs.filter((l) => l.level === 40 && l.hostId === a.hostId);
    expect(warnings).toEqual([expect.objectContaining({ samples: 2 })]);
    a.agent.close();
    b.agent.close();
  });

  it('continues a migrated VM’s series from its new host once the move is held, dropping the old host’s samples after it', async () => {
    const vmId = randomUUID();
    const source = await hostWithVms(t, admin, 'metrics-src', [vmId]);
    const destination = await hostWithVms(t, admin, 'metrics-dst', []);
    const start = Date.now() - (Date.now() % PERIOD) - 10 * PERIOD;
    const foreignBefore = await foreignDropped();

    // Before the move: the source's sample is kept, the destination's dropped.
    await source.agent.metrics({ vms: [cpu(vmId, start, 5)] });
    await destination.agent.metrics({ vms: [cpu(vmId, start + PERIOD, 6)] });
    await eventually(
      'the destination’s early sample dropped',
      foreignDropped,
      (n) => n === foreignBefore + 1,
    );

    // The VM moves as a migration outside Cockpit settles: the destination reports it (a conflict while
    // the source holds it), the source reports it gone, the destination's record takes its place.
    await destination.agent.batch([{ $case: 'vmUpdated', value: vm(vmId, 'mover') }]);
    await destination.agent.next('ack');
    await source.agent.batch([
      {
        $case: 'vmRemoved',
        value: { id: vmId, name: 'mover', reason: VmRemovalReason.VM_REMOVAL_REASON_MIGRATED },
      },
    ]);
    await source.agent.next('ack');
    const moved = await t.request('GET', `/api/v1/vms/${vmId}`, { token: admin });
    expect(moved.body).toMatchObject({ host_id: destination.hostId, conflict: null });

    // After: the destination's samples continue the series (its first reading has no rate, and its id
    // may be spelled in upper case); the source's later sample is dropped.
    await destination.agent.metrics({
      vms: [
        VmSample.fromPartial({ vmId: vmId.toUpperCase(), atMs: start + 2 * PERIOD, presentFields: 0 }),
        cpu(vmId, start + 3 * PERIOD, 7),
      ],
    });
    await source.agent.metrics({ vms: [cpu(vmId, start + 4 * PERIOD, 8)] });
    await eventually('the source’s late sample dropped', foreignDropped, (n) => n === foreignBefore + 2);
    const points = await eventually(
      'both hosts’ kept samples in one series',
      () => cpuSeries(vmId, start, start + 5 * PERIOD),
      (p) => p.length === 2,
    );
    expect(points).toEqual([
      { t: iso(start), avg: 5, max: 5 },
      { t: iso(start + 3 * PERIOD), avg: 7, max: 7 },
    ]);
    source.agent.close();
    destination.agent.close();
  });

  it('sorts the samples of two hosts streaming at once: each VM’s series holds only its own host’s', async () => {
    const SLOTS = 30;
    const hosts = await Promise.all(
      [
        { name: 'metrics-left', value: 10 },
        { name: 'metrics-right', value: 20 },
      ].map(async (h) => {
        const vms = Array.from({ length: 5 }, () => randomUUID());
        return { ...h, vms, ...(await hostWithVms(t, admin, h.name, vms)) };
      }),
    );
    const everyVm = hosts.flatMap((h) => h.vms);
    const foreignBefore = await foreignDropped();
    const start = Date.now() - (Date.now() % PERIOD) - 40 * PERIOD;
    // Each host sends every slot for its own VMs and, at the same moment, for the other host's VMs with
    // its own value: a foreign sample written first would take the owner's place (re-sent ones are ignored).
    await Promise.all(
      hosts.map(async (h) => {
        for (let i = 0; i < SLOTS; i++) {
          await h.agent.metrics({ vms: everyVm.map((id) => cpu(id, start + i * PERIOD, h.value)) });
        }
      }),
    );
    await eventually(
      'every foreign sample counted',
      foreignDropped,
      (n) => n === foreignBefore + 5 * 2 * SLOTS,
    );
    for (const h of hosts) {
      const rows = await eventually(
        `${h.name}’s samples stored`,
        () => t.sql<{ n: number; low: number; high: number }[]>`
          select count(*)::int as n, min(cpu_percent) as low, max(cpu_percent) as high
          from metric_vm_raw where vm_id = any(${h.vms}::uuid[])`,
        ([r]) => r?.n === 5 * SLOTS,
      );
      expect(rows).toEqual([{ n: 5 * SLOTS, low: h.value, high: h.value }]);
      h.agent.close();
    }
  });
});
