import { HOST_FIELDS, type HostSample, VM_FIELDS, type VmSample, type VmValueField } from '@cockpit/proto';
import type { DiskCounters, HostCounters, NetCounters, VmCounters } from './counters.ts';

/** A previous reading, the baseline of the next rates. */
export interface Baseline<T> {
  counters: T;
  /** Monotonic ms of the reading. */
  readAtMs: number;
}

/** Rates need two readings of the same counters at most this far apart (ms). */
export const maxGapFor = (periodMs: number): number => Math.max(3 * periodMs, 30_000);

type Four<T> = readonly [(d: T) => number, (d: T) => number, (d: T) => number, (d: T) => number];

const DISK: Four<DiskCounters> = [
  (d) => d.readBytes,
  (d) => d.writeBytes,
  (d) => d.readRequests,
  (d) => d.writeRequests,
];
const NET: Four<NetCounters> = [(n) => n.rxBytes, (n) => n.txBytes, (n) => n.rxPackets, (n) => n.txPackets];

/**
 * One VM's sample at slot `atMs` from its reading now and its previous one. The reset rule: a rate has a
 * value only when the previous reading is of the same life of the counters (same `instance`), at most
 * `maxGapMs` old, and no counter it uses went backwards; a disk or NIC group also needs the same devices
 * in both readings. Anything else — first reading, restart, migration in, reset, wrap, hot-plug — leaves
 * the rate without a value for this slot, never negative and never a spike.
 */
export function vmSample(
  cur: VmCounters,
  readAtMs: number,
  atMs: number,
  prev: Baseline<VmCounters> | undefined,
  maxGapMs: number,
): VmSample {
  const s: VmSample = {
    vmId: cur.id,
    atMs,
    cpuPercent: 0,
    memoryUsedBytes: 0,
    memoryAvailableBytes: 0,
    memoryRssBytes: 0,
    diskReadBps: 0,
    diskWriteBps: 0,
    diskReadIops: 0,
    diskWriteIops: 0,
    netRxBps: 0,
    netTxBps: 0,
    netRxPps: 0,
    netTxPps: 0,
    memoryCurrentBytes: 0,
    memoryUnusedBytes: 0,
    memoryUsableBytes: 0,
    vcpus: cur.vcpus,
    intervalMs: 0,
    presentFields: 0,
  };
  let mask = 0;
  const level = (field: VmValueField, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value) || value < 0) return;
    s[field] = value;
    mask |= 1 << VM_FIELDS[field];
  };
  level('memoryCurrentBytes', cur.memoryCurrentBytes);
  level('memoryAvailableBytes', cur.memoryAvailableBytes);
  level('memoryUnusedBytes', cur.memoryUnusedBytes);
  level('memoryUsableBytes', cur.memoryUsableBytes);
  level('memoryRssBytes', cur.memoryRssBytes);
  if (cur.memoryAvailableBytes !== undefined && cur.memoryUnusedBytes !== undefined) {
    level('memoryUsedBytes', cur.memoryAvailableBytes - cur.memoryUnusedBytes);
  }

  const elapsedMs = prev === undefined ? 0 : readAtMs - prev.readAtMs;
  if (
    prev !== undefined &&
    prev.counters.instance === cur.instance &&
    elapsedMs > 0 &&
    elapsedMs <= maxGapMs
  ) {
    const before = prev.counters;
    const seconds = elapsedMs / 1000;
    let measured = false;
    const cpuNs = delta(before.cpuTimeNs, cur.cpuTimeNs);
    if (cpuNs !== undefined && cur.vcpus > 0) {
      level('cpuPercent', Math.min(100, (cpuNs / (elapsedMs * 1e6 * cur.vcpus)) * 100));
      measured = true;
    }
    const disk = groupDeltas(before.disks, cur.disks, DISK);
    if (disk !== undefined) {
      level('diskReadBps', disk[0] / seconds);
      level('diskWriteBps', disk[1] / seconds);
      level('diskReadIops', disk[2] / seconds);
      level('diskWriteIops', disk[3] / seconds);
      measured = true;
    }
    const net = groupDeltas(before.nets, cur.nets, NET);
    if (net !== undefined) {
      level('netRxBps', net[0] / seconds);
      level('netTxBps', net[1] / seconds);
      level('netRxPps', net[2] / seconds);
      level('netTxPps', net[3] / seconds);
      measured = true;
    }
    if (measured) s.intervalMs = Math.round(elapsedMs);
  }
  s.presentFields = mask;
  return s;
}

/** The host's sample at slot `atMs`: CPU busy share between two readings (same rules), memory levels. */
export function hostSample(
  cur: HostCounters,
  readAtMs: number,
  atMs: number,
  prev: Baseline<HostCounters> | undefined,
  maxGapMs: number,
): HostSample {
  const s: HostSample = {
    atMs,
    cpuPercent: 0,
    memoryTotalBytes: cur.memoryTotalBytes,
    memoryUsedBytes: cur.memoryUsedBytes,
    memoryAvailableBytes: cur.memoryAvailableBytes,
    intervalMs: 0,
    presentFields:
      (1 << HOST_FIELDS.memoryTotalBytes) |
      (1 << HOST_FIELDS.memoryUsedBytes) |
      (1 << HOST_FIELDS.memoryAvailableBytes),
  };
  const elapsedMs = prev === undefined ? 0 : readAtMs - prev.readAtMs;
  if (prev === undefined || elapsedMs <= 0 || elapsedMs > maxGapMs) return s;
  const busy = delta(prev.counters.cpuBusyNs, cur.cpuBusyNs);
  const total = delta(prev.counters.cpuTotalNs, cur.cpuTotalNs);
  if (busy !== undefined && total !== undefined && total > 0 && busy <= total) {
    s.cpuPercent = (busy / total) * 100;
    s.presentFields |= 1 << HOST_FIELDS.cpuPercent;
    s.intervalMs = Math.round(elapsedMs);
  }
  return s;
}

/** How much a counter grew; undefined when either reading lacks it or it went backwards. */
function delta(before: number | undefined, after: number | undefined): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  const d = after - before;
  return d >= 0 && Number.isFinite(d) ? d : undefined;
}

/**
 * Summed growth of each of a device's four counters over a group of devices, matched by name; undefined
 * unless both readings hold the same devices and none of their counters went backwards.
 */
function groupDeltas<T extends { name: string }>(
  before: readonly T[],
  after: readonly T[],
  counters: Four<T>,
): [number, number, number, number] | undefined {
  if (before.length !== after.length) return undefined;
  const sums: [number, number, number, number] = [0, 0, 0, 0];
  for (const device of after) {
    const old = before.find((d) => d.name === device.name);
    if (old === undefined) return undefined;
    for (let i = 0; i < 4; i++) {
      const read = counters[i as 0 | 1 | 2 | 3];
      const d = delta(read(old), read(device));
      if (d === undefined) return undefined;
      sums[i as 0 | 1 | 2 | 3] += d;
    }
  }
  return sums;
}
