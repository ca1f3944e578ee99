// `pnpm bench:agent-metrics`: what sampling costs the agents of the scale benchmark (1,000 simulated
// agents × 50 VMs in one process, every 10 s). Per period, for every agent: the simulated driver's
// counters, the rate rules, the buffer, and the MetricsBatch encoded as grpc-js would. Baseline in the same
// run: encoding the same messages alone (the wire cost any design pays). Virtual clock: periods run back
// to back, so the figure is pure CPU.
import { ConnectRequest } from '@cockpit/proto';
import { SharedTicker } from '../src/driver/simulated/shared-ticker.ts';
import { SimulatedDriver } from '../src/driver/simulated/simulated-driver.ts';
import { RateTracker } from '../src/metrics/rate-tracker.ts';
import { maxGapFor } from '../src/metrics/rates.ts';
import { SampleBuffer } from '../src/metrics/sample-buffer.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1_000);
const VMS = Number(process.env.BENCH_VMS ?? 50);
const PERIODS = Number(process.env.BENCH_PERIODS ?? 12);
const PERIOD_MS = 10_000;

const clock = { t: Date.UTC(2026, 0, 1) };
const ticker = new SharedTicker(1_000_000);
const agents = Array.from({ length: AGENTS }, (_, i) => ({
  driver: new SimulatedDriver({
    hostname: `vapor-node-${String(i + 1).padStart(4, '0')}.corp.awan.io`,
    seed: 'bench',
    vmCount: VMS,
    changesPerMinute: 0,
    crashes: false,
    opDelayMs: 0,
    ticker,
    now: () => clock.t,
  }),
  tracker: new RateTracker(),
  buffer: new SampleBuffer({ maxSamples: 100_000, maxAgeMs: 1_800_000 }),
}));

/** Heap in use after a full collection (run with --expose-gc), else as it stands. */
const heapMiB = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const heapBefore = heapMiB();

const cpuMs = (start: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
};

/** One period of every agent; returns the requests it encoded (for the baseline) and the samples. */
async function period(keep: ConnectRequest[] | undefined): Promise<number> {
  clock.t += PERIOD_MS;
  let samples = 0;
  for (const a of agents) {
    const reading = await a.driver.readCounters();
    const { host, vms } = a.tracker.sample(reading, clock.t, maxGapFor(PERIOD_MS));
    a.buffer.push(host, vms);
    for (let next = a.buffer.next(); next !== undefined; next = a.buffer.next()) {
      ConnectRequest.encode(next.request).finish();
      keep?.push(next.request);
      next.written();
    }
    samples += 1 + vms.length;
  }
  return samples;
}

for (let i = 0; i < 3; i++) await period(undefined); // warm-up (JIT, first readings)

const pipeline: number[] = [];
const encodeOnly: number[] = [];
let samplesPerPeriod = 0;
for (let i = 0; i < PERIODS; i++) {
  const kept: ConnectRequest[] = [];
  const start = process.cpuUsage();
  samplesPerPeriod = await period(kept);
  pipeline.push(cpuMs(start));
  const again = process.cpuUsage();
  for (const r of kept) ConnectRequest.encode(r).finish();
  encodeOnly.push(cpuMs(again));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const p = median(pipeline);
const e = median(encodeOnly);
const heapAfter = heapMiB();
console.log(
  `agents × VMs: ${AGENTS} × ${VMS}; samples per ${PERIOD_MS / 1000} s period: ${samplesPerPeriod}`,
);
console.log(`pipeline (read + rates + buffer + encode): median ${p.toFixed(1)} ms CPU per period`);
console.log(`  = ${((p / PERIOD_MS) * 100).toFixed(2)} % of one core at a ${PERIOD_MS / 1000} s period`);
console.log(`  = ${((p * 1000) / samplesPerPeriod).toFixed(2)} µs per sample`);
console.log(`baseline (encode only): median ${e.toFixed(1)} ms; pipeline / encode = ${(p / e).toFixed(2)}×`);
console.log(
  `heap: ${heapBefore.toFixed(0)} MiB with the drivers alone, ${heapAfter.toFixed(0)} MiB while sampling ` +
    `(+${(((heapAfter - heapBefore) * 1024 * 1024) / (AGENTS * VMS)).toFixed(0)} bytes per VM: baselines, simulated counters)`,
);
await Promise.all(agents.map((a) => a.driver.close()));
