import { VmState } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_METRICS_CONFIG, vmValue } from '../src/index.ts';
import { controllerPerTest } from './support/controller-per-test.ts';
import type { ControllerSession } from './support/controller-session.ts';
import { testDriver } from './support/test-agent.ts';

// Metric samples on the real stream: MetricsBatch messages every period from Welcome, after the state
// sync; a bounded backlog while the controller is away, sent after the next sync.

const env = controllerPerTest(() => ({ driver: testDriver({ vmCount: 8 }) }));
const { agentWith } = env;

const index = (session: ControllerSession, kind: string) =>
  session.received.findIndex((r) => r.message?.$case === kind);
const lastIndex = (session: ControllerSession, kind: string) =>
  session.received.findLastIndex((r) => r.message?.$case === kind);
const hostSlots = (session: ControllerSession) => session.hostSamples().map((h) => h.atMs);

describe('metric samples over the stream', () => {
  it('every period from Welcome, aligned: one host sample, one per active VM; rates from the second on', async () => {
    const sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const session = await sessions;
    await session.welcome({ metricsIntervalMs: 1_000 });
    const vms = await driver.listVms();
    const active = vms.filter((v) => v.state !== VmState.VM_STATE_SHUT_OFF).map((v) => v.id);
    const running = vms.filter((v) => v.state === VmState.VM_STATE_RUNNING).map((v) => v.id);
    expect(running.length).toBeGreaterThan(0);
    await session.until(() => session.hostSamples().length >= 3);

    // The state sync came first.
    expect(index(session, 'snapshot')).toBeLessThan(index(session, 'metrics'));
    const slots = hostSlots(session);
    expect(slots.every((t) => t % 1_000 === 0)).toBe(true);
    expect(slots.every((t, i) => i === 0 || t > (slots[i - 1] ?? 0))).toBe(true);
    for (const slot of slots) {
      const ids = session
        .vmSamples()
        .filter((s) => s.atMs === slot)
        .map((s) => s.vmId);
      expect(ids.sort()).toEqual([...active].sort());
    }
    const second = slots[1];
    for (const id of running) {
      const sample = session.vmSamples(id).find((s) => s.atMs === second);
      if (sample === undefined) throw new Error(`no sample of ${id} at ${second}`);
      expect(vmValue(sample, 'cpuPercent')).toBeGreaterThan(0);
      expect(sample.intervalMs).toBeGreaterThan(0);
    }
    // The first slot of each VM has no rate: it is the baseline.
    const first = session.vmSamples().filter((s) => s.atMs === slots[0]);
    expect(first.every((s) => vmValue(s, 'cpuPercent') === undefined && s.intervalMs === 0)).toBe(true);
  });

  it('a VM started meanwhile: sampled from then on, its first sample without rates', async () => {
    const sessions = env.controller.nextSession();
    const { driver } = await agentWith();
    const session = await sessions;
    await session.welcome({ metricsIntervalMs: 1_000 });
    await session.until(() => session.hostSamples().length >= 1);
    const vm = driver.define({ name: 'late-01', vcpus: 2 });
    await driver.power(vm.id, 'start');
    const [firstSample, secondSample] = await session.until(
      () => session.vmSamples(vm.id).length >= 2 && session.vmSamples(vm.id),
    );
    if (firstSample === undefined || secondSample === undefined) throw new Error('two samples expected');
    expect(vmValue(firstSample, 'cpuPercent')).toBeUndefined();
    expect(vmValue(secondSample, 'cpuPercent')).toBeGreaterThan(0);
    expect(secondSample.vcpus).toBe(2);
  });

  it('while disconnected: a bounded buffer keeps the newest samples, sent after the next sync', async () => {
    const bound = 12;
    let sessions = env.controller.nextSession();
    const { agent, log } = await agentWith({
      config: { metrics: { ...DEFAULT_METRICS_CONFIG, intervalMs: 1_000, bufferMaxSamples: bound } },
    });
    const first = await sessions;
    await first.welcome({ metricsIntervalMs: 1_000 });
    await first.until(() => first.hostSamples().length >= 2);
    await env.controller.kill();
    await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(false);
    const sentBefore = new Set(first.vmSamples().map((s) => `${s.vmId}@${s.atMs}`));
    const lastBefore = Math.max(...hostSlots(first));

    // Samples pile up: the oldest are dropped and counted, never more than the bound are kept.
    const buffered: number[] = [];
    await expect
      .poll(
        () => {
          buffered.push(agent.status().metrics.buffered);
          return agent.status().metrics.dropped;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(2 * bound);
    expect(Math.max(...buffered)).toBeLessThanOrEqual(bound);

    sessions = env.controller.nextSession();
    await env.controller.restart();
    const second = await sessions;
    const welcomedAt = Date.now();
    await second.welcome({ appliedCursor: 0, metricsIntervalMs: 1_000 });
    await second.until(() => hostSlots(second).some((t) => t > welcomedAt));

    // The state sync (a snapshot, as the controller has nothing) went first, then the backlog.
    expect(lastIndex(second, 'snapshot')).toBeLessThan(index(second, 'metrics'));
    const backlog = [...second.hostSamples(), ...second.vmSamples()].filter(
      (s) => s.atMs < welcomedAt - 1_000,
    );
    expect(backlog.length).toBeGreaterThan(0);
    expect(backlog.length).toBeLessThanOrEqual(bound);
    // The newest were kept: the backlog does not start right after what the first session got.
    const backlogSlots = second
      .hostSamples()
      .filter((h) => h.atMs < welcomedAt - 1_000)
      .map((h) => h.atMs);
    expect(Math.min(...backlogSlots)).toBeGreaterThan(lastBefore + 1_000);
    // Slots only grow, and nothing was sent twice.
    const all = hostSlots(second);
    expect(all.every((t, i) => i === 0 || t > (all[i - 1] ?? 0))).toBe(true);
    expect(second.vmSamples().filter((s) => sentBefore.has(`${s.vmId}@${s.atMs}`))).toEqual([]);
    expect(agent.status().metrics.buffered).toBeLessThanOrEqual(bound);
    const [dropLine] = log.messages(
      'metric samples dropped while disconnected (the oldest, beyond the buffer bounds); sending the rest',
    );
    expect(Number(dropLine?.dropped)).toBeGreaterThanOrEqual(2 * bound);
  });
});
