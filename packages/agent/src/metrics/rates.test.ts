import { hostValue, type VmSample, type VmValueField, vmValue } from '@cockpit/proto';
import { describe, expect, it } from 'vitest';
import type { CounterReading, HostCounters, VmCounters } from './counters.ts';
import { RateTracker } from './rate-tracker.ts';
import { maxGapFor } from './rates.ts';

// The reset rules on plain numbers: a rate has a value only between two readings of the same life of the
// counters, close enough in time, with nothing gone backwards; never negative, never a spike.

const PERIOD = 10_000;
const GAP = maxGapFor(PERIOD);
const GIB = 1024 ** 3;

function vm(over: Partial<VmCounters> = {}): VmCounters {
  return {
    id: 'a1',
    name: 'web-01',
    instance: 7,
    vcpus: 2,
    cpuTimeNs: 0,
    memoryCurrentBytes: 2 * GIB,
    memoryRssBytes: GIB,
    disks: [{ name: 'vda', readBytes: 0, writeBytes: 0, readRequests: 0, writeRequests: 0 }],
    nets: [{ name: 'vnet0', rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 }],
    ...over,
  };
}

/** The VM after `seconds` of steady load: 50 % of its vCPUs, 1 MB/s read, 2 MB/s rx … */
function after(base: VmCounters, seconds: number, over: Partial<VmCounters> = {}): VmCounters {
  const d = base.disks[0];
  const n = base.nets[0];
  return {
    ...base,
    cpuTimeNs: (base.cpuTimeNs ?? 0) + 0.5 * base.vcpus * seconds * 1e9,
    disks: d
      ? [
          {
            name: d.name,
            readBytes: d.readBytes + 1e6 * seconds,
            writeBytes: d.writeBytes + 5e5 * seconds,
            readRequests: d.readRequests + 100 * seconds,
            writeRequests: d.writeRequests + 50 * seconds,
          },
        ]
      : [],
    nets: n
      ? [
          {
            name: n.name,
            rxBytes: n.rxBytes + 2e6 * seconds,
            txBytes: n.txBytes + 1e6 * seconds,
            rxPackets: n.rxPackets + 2000 * seconds,
            txPackets: n.txPackets + 1000 * seconds,
          },
        ]
      : [],
    ...over,
  };
}

const host: HostCounters = {
  cpuBusyNs: 0,
  cpuTotalNs: 0,
  memoryTotalBytes: 64 * GIB,
  memoryUsedBytes: 16 * GIB,
  memoryAvailableBytes: 48 * GIB,
};

const reading = (readAtMs: number, vms: VmCounters[], h: HostCounters = host): CounterReading => ({
  readAtMs,
  host: h,
  vms,
});

const RATES: VmValueField[] = [
  'cpuPercent',
  'diskReadBps',
  'diskWriteBps',
  'diskReadIops',
  'diskWriteIops',
  'netRxBps',
  'netTxBps',
  'netRxPps',
  'netTxPps',
];
const rates = (s: VmSample | undefined) => (s === undefined ? [] : RATES.map((f) => vmValue(s, f)));
const noRates = (s: VmSample | undefined) => rates(s).every((v) => v === undefined);

describe('VM rates', () => {
  it('first reading: levels, but no rate and no interval', () => {
    const t = new RateTracker();
    const [s] = t.sample(reading(1_000, [vm()]), 10_000, GAP).vms;
    expect(noRates(s)).toBe(true);
    expect(s?.intervalMs).toBe(0);
    expect(s && vmValue(s, 'memoryCurrentBytes')).toBe(2 * GIB);
    expect(s && vmValue(s, 'memoryRssBytes')).toBe(GIB);
    // Not reported by the guest: no value rather than 0.
    expect(s && vmValue(s, 'memoryAvailableBytes')).toBeUndefined();
    expect(s && vmValue(s, 'memoryUsedBytes')).toBeUndefined();
  });

  it('second reading: CPU share of the vCPUs, bytes and requests per second over the measured interval', () => {
    const t = new RateTracker();
    const a = vm();
    t.sample(reading(1_000, [a]), 10_000, GAP);
    // The timer fired 40 ms late: the rates use the measured 10.04 s, the slot stays 20,000.
    const [s] = t.sample(reading(11_040, [after(a, 10.04)]), 20_000, GAP).vms;
    expect(s?.atMs).toBe(20_000);
    expect(s?.intervalMs).toBe(10_040);
    expect(s?.cpuPercent).toBeCloseTo(50, 6);
    expect(s?.diskReadBps).toBeCloseTo(1e6, 3);
    expect(s?.diskWriteBps).toBeCloseTo(5e5, 3);
    expect(s?.diskReadIops).toBeCloseTo(100, 6);
    expect(s?.diskWriteIops).toBeCloseTo(50, 6);
    expect(s?.netRxBps).toBeCloseTo(2e6, 3);
    expect(s?.netTxPps).toBeCloseTo(1000, 6);
    expect(rates(s).every((v) => v !== undefined)).toBe(true);
  });

  it('restart (a new instance): no rate for that interval, even though the new counters are higher', () => {
    const t = new RateTracker();
    const a = vm({ cpuTimeNs: 1e9 });
    t.sample(reading(0, [a]), 10_000, GAP);
    // Destroyed and started within the period: new domain id; its counters happen to be above the old ones.
    const restarted = after(vm({ instance: 8, cpuTimeNs: 0 }), 30);
    const [s] = t.sample(reading(10_000, [restarted]), 20_000, GAP).vms;
    expect(noRates(s)).toBe(true);
    // The new life is the baseline of the next interval.
    const [next] = t.sample(reading(20_000, [after(restarted, 10)]), 30_000, GAP).vms;
    expect(next?.cpuPercent).toBeCloseTo(50, 6);
  });

  it('migrated in: unknown here, then absent for a while and back with another life: first reading each time', () => {
    const t = new RateTracker();
    t.sample(reading(0, []), 10_000, GAP);
    const arrived = vm({ instance: 3, cpuTimeNs: 9e12 });
    expect(noRates(t.sample(reading(10_000, [arrived]), 20_000, GAP).vms[0])).toBe(true);
    // It migrates away (missing from a reading) and comes back later.
    t.sample(reading(20_000, []), 30_000, GAP);
    expect(t.tracked).toBe(0);
    const back = vm({ instance: 3, cpuTimeNs: 9.5e12 });
    expect(noRates(t.sample(reading(30_000, [back]), 40_000, GAP).vms[0])).toBe(true);
  });

  it('a counter that went backwards (reset or wrap) yields no rate for its group only, never a negative one', () => {
    const t = new RateTracker();
    const a = vm({
      cpuTimeNs: 5e12,
      disks: [
        { name: 'vda', readBytes: 2 ** 64 - 2 ** 20, writeBytes: 0, readRequests: 0, writeRequests: 0 },
      ],
    });
    t.sample(reading(0, [a]), 10_000, GAP);
    const wrapped = after(a, 10);
    const vda = wrapped.disks[0];
    if (vda === undefined) throw new Error('no disk');
    // The disk's read counter wrapped from near 2^64 to a small number; CPU and network are fine.
    const b = { ...wrapped, disks: [{ ...vda, readBytes: 4096 }] };
    const [s] = t.sample(reading(10_000, [b]), 20_000, GAP).vms;
    expect(s && vmValue(s, 'diskReadBps')).toBeUndefined();
    expect(s && vmValue(s, 'diskWriteIops')).toBeUndefined();
    expect(s?.cpuPercent).toBeCloseTo(50, 6);
    expect(s?.netRxBps).toBeCloseTo(2e6, 3);
    // CPU time going backwards (counter reset without a new id) likewise.
    const [c] = t.sample(reading(20_000, [{ ...after(b, 10), cpuTimeNs: 1 }]), 30_000, GAP).vms;
    expect(c && vmValue(c, 'cpuPercent')).toBeUndefined();
    expect(c?.diskReadBps).toBeCloseTo(1e6, 3);
  });

  it('near 2^64: still a rate while the counter grows, none once it wraps', () => {
    const t = new RateTracker();
    const big = 2 ** 64 - 2 ** 40;
    const a = vm({ nets: [{ name: 'vnet0', rxBytes: big, txBytes: 0, rxPackets: 0, txPackets: 0 }] });
    t.sample(reading(0, [a]), 10_000, GAP);
    const grown = vm({
      nets: [{ name: 'vnet0', rxBytes: big + 2 ** 34, txBytes: 0, rxPackets: 0, txPackets: 0 }],
    });
    const [s] = t.sample(reading(10_000, [grown]), 20_000, GAP).vms;
    expect(s?.netRxBps).toBeCloseTo(2 ** 34 / 10, -3);
    const wrapped = vm({ nets: [{ name: 'vnet0', rxBytes: 1000, txBytes: 0, rxPackets: 0, txPackets: 0 }] });
    const [w] = t.sample(reading(20_000, [wrapped]), 30_000, GAP).vms;
    expect(w && vmValue(w, 'netRxBps')).toBeUndefined();
  });

  it('a disk hot-plugged or unplugged: no disk rate for that interval, none below 0 or spiking', () => {
    const t = new RateTracker();
    const a = vm();
    t.sample(reading(0, [a]), 10_000, GAP);
    const plugged = after(a, 10);
    plugged.disks.push({ name: 'vdb', readBytes: 5e9, writeBytes: 0, readRequests: 9e5, writeRequests: 0 });
    const [s] = t.sample(reading(10_000, [plugged]), 20_000, GAP).vms;
    expect(s && vmValue(s, 'diskReadBps')).toBeUndefined();
    expect(s?.cpuPercent).toBeCloseTo(50, 6);
    // Next interval: both disks known, summed.
    const both = after(plugged, 10);
    both.disks.push({
      name: 'vdb',
      readBytes: 5e9 + 3e6,
      writeBytes: 0,
      readRequests: 9e5,
      writeRequests: 0,
    });
    const [s2] = t.sample(reading(20_000, [both]), 30_000, GAP).vms;
    expect(s2?.diskReadBps).toBeCloseTo(1e6 + 3e5, 3);
    // vdb unplugged: its large counters vanish from the sum — no rate rather than a negative one.
    const unplugged = after(both, 10);
    const [s3] = t.sample(reading(30_000, [unplugged]), 40_000, GAP).vms;
    expect(s3 && vmValue(s3, 'diskReadBps')).toBeUndefined();
  });

  it('a long gap (the hypervisor did not answer for minutes): no rate; the next interval has one again', () => {
    const t = new RateTracker();
    const a = vm();
    t.sample(reading(0, [a]), 10_000, GAP);
    const late = after(a, 300);
    expect(GAP).toBe(30_000);
    expect(noRates(t.sample(reading(300_000, [late]), 310_000, GAP).vms[0])).toBe(true);
    const [s] = t.sample(reading(310_000, [after(late, 10)]), 320_000, GAP).vms;
    expect(s?.cpuPercent).toBeCloseTo(50, 6);
    // Up to the limit, a longer interval is still a measured average.
    const [edge] = t.sample(reading(340_000, [after(late, 40)]), 350_000, GAP).vms;
    expect(edge?.intervalMs).toBe(30_000);
  });

  it('no time between two readings (a clock that stood still): no rate instead of a division by zero', () => {
    const t = new RateTracker();
    const a = vm();
    t.sample(reading(5_000, [a]), 10_000, GAP);
    expect(noRates(t.sample(reading(5_000, [after(a, 1)]), 20_000, GAP).vms[0])).toBe(true);
  });

  it('CPU is capped at 100 % (cpu.time includes QEMU threads beyond the vCPUs)', () => {
    const t = new RateTracker();
    const a = vm({ vcpus: 1 });
    t.sample(reading(0, [a]), 10_000, GAP);
    const [s] = t.sample(reading(10_000, [{ ...a, cpuTimeNs: 11e9 }]), 20_000, GAP).vms;
    expect(s?.cpuPercent).toBe(100);
  });

  it('guest memory: used = available - unused, when the balloon driver reports both', () => {
    const t = new RateTracker();
    const [s] = t.sample(
      reading(0, [vm({ memoryAvailableBytes: 4 * GIB, memoryUnusedBytes: GIB, memoryUsableBytes: 2 * GIB })]),
      10_000,
      GAP,
    ).vms;
    expect(s && vmValue(s, 'memoryUsedBytes')).toBe(3 * GIB);
    expect(s && vmValue(s, 'memoryUsableBytes')).toBe(2 * GIB);
  });
});

describe('host rates', () => {
  it('busy share of all CPUs between two readings; memory levels always', () => {
    const t = new RateTracker();
    const first = t.sample(reading(0, [], { ...host, cpuBusyNs: 1e12, cpuTotalNs: 4e12 }), 10_000, GAP).host;
    expect(hostValue(first, 'cpuPercent')).toBeUndefined();
    expect(hostValue(first, 'memoryUsedBytes')).toBe(16 * GIB);
    // 32 CPUs for 10 s = 320 CPU-seconds, 80 of them busy.
    const h = t.sample(
      reading(10_000, [], { ...host, cpuBusyNs: 1e12 + 80e9, cpuTotalNs: 4e12 + 320e9 }),
      20_000,
      GAP,
    ).host;
    expect(hostValue(h, 'cpuPercent')).toBeCloseTo(25, 6);
    expect(h.intervalMs).toBe(10_000);
  });

  it('node counters that went backwards (the host rebooted under a running agent): no rate', () => {
    const t = new RateTracker();
    t.sample(reading(0, [], { ...host, cpuBusyNs: 1e12, cpuTotalNs: 4e12 }), 10_000, GAP);
    const h = t.sample(reading(10_000, [], { ...host, cpuBusyNs: 1e9, cpuTotalNs: 2e12 }), 20_000, GAP).host;
    expect(hostValue(h, 'cpuPercent')).toBeUndefined();
    expect(h.intervalMs).toBe(0);
  });
});
