import type { HostSample, VmSample } from '@cockpit/proto';
import type { CounterReading, HostCounters, VmCounters } from './counters.ts';
import { type Baseline, hostSample, vmSample } from './rates.ts';

interface VmBaseline extends Baseline<VmCounters> {
  /** The reading that last saw this VM. */
  seen: number;
}

/**
 * Keeps the previous reading of the host and of each VM, and turns each new reading into samples
 * (src/metrics/rates.ts has the rules). A VM missing from a reading (stopped, migrated away) loses its
 * baseline: when it comes back, its first reading has no rates.
 */
export class RateTracker {
  private host: Baseline<HostCounters> | undefined;
  private readonly vms = new Map<string, VmBaseline>();
  private readings = 0;

  /** Samples for slot `atMs`; the reading becomes the baseline of the next. */
  sample(reading: CounterReading, atMs: number, maxGapMs: number): { host: HostSample; vms: VmSample[] } {
    const at = reading.readAtMs;
    const host = hostSample(reading.host, at, atMs, this.host, maxGapMs);
    this.host = { counters: reading.host, readAtMs: at };
    const generation = ++this.readings;
    const vms: VmSample[] = [];
    for (const counters of reading.vms) {
      const previous = this.vms.get(counters.id);
      vms.push(vmSample(counters, at, atMs, previous, maxGapMs));
      if (previous === undefined) this.vms.set(counters.id, { counters, readAtMs: at, seen: generation });
      else {
        previous.counters = counters;
        previous.readAtMs = at;
        previous.seen = generation;
      }
    }
    for (const [id, baseline] of this.vms) if (baseline.seen !== generation) this.vms.delete(id);
    return { host, vms };
  }

  /** VMs with a baseline (for tests and the agent's own metrics). */
  get tracked(): number {
    return this.vms.size;
  }
}
