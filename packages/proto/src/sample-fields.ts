import type { HostSample, VmSample } from './gen/cockpit/agent/v1/metrics.ts';

// Field numbers of metrics.proto's value fields: `present_fields` has bit (1 << n) set when field number n
// holds a value. The numbers are the proto's; sample-fields.test.ts checks each against the encoder.

type ValueFields<T> = Exclude<keyof T, 'atMs' | 'vmId' | 'intervalMs' | 'presentFields' | 'vcpus'>;

export const HOST_FIELDS = {
  cpuPercent: 2,
  memoryTotalBytes: 3,
  memoryUsedBytes: 4,
  memoryAvailableBytes: 5,
} as const satisfies Record<ValueFields<HostSample>, number>;

export const VM_FIELDS = {
  cpuPercent: 3,
  memoryUsedBytes: 4,
  memoryAvailableBytes: 5,
  memoryRssBytes: 6,
  diskReadBps: 7,
  diskWriteBps: 8,
  diskReadIops: 9,
  diskWriteIops: 10,
  netRxBps: 11,
  netTxBps: 12,
  netRxPps: 13,
  netTxPps: 14,
  memoryCurrentBytes: 15,
  memoryUnusedBytes: 16,
  memoryUsableBytes: 17,
} as const satisfies Record<ValueFields<VmSample>, number>;

export type HostValueField = keyof typeof HOST_FIELDS;
export type VmValueField = keyof typeof VM_FIELDS;

/** The value of `field` in `sample`, or undefined when its bit in present_fields is clear. */
export function hostValue(sample: HostSample, field: HostValueField): number | undefined {
  return (sample.presentFields & (1 << HOST_FIELDS[field])) !== 0 ? sample[field] : undefined;
}

/** The value of `field` in `sample`, or undefined when its bit in present_fields is clear. */
export function vmValue(sample: VmSample, field: VmValueField): number | undefined {
  return (sample.presentFields & (1 << VM_FIELDS[field])) !== 0 ? sample[field] : undefined;
}
