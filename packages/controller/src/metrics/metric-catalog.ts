import type { HostValueField, VmValueField } from '@cockpit/proto';

/** What a metric's numbers are: the REST answer and the Prometheus help text say it. */
export type MetricUnit =
  | 'percent'
  | 'bytes'
  | 'bytes_per_second'
  | 'operations_per_second'
  | 'packets_per_second';

export interface MetricDefinition<Field extends string> {
  /** The REST and column name: the proto field in snake_case (metrics.proto, the agent's README). */
  name: string;
  /** The sample's field. */
  field: Field;
  unit: MetricUnit;
  description: string;
}

const metric = <F extends string>(name: string, field: F, unit: MetricUnit, description: string) => ({
  name,
  field,
  unit,
  description,
});

/**
 * The metrics kept per VM: the VmSample value fields, in the column order of the 0006 tables. The
 * migration writes the same names as columns; metric-schema.test.ts holds the two together.
 */
export const VM_METRICS: ReadonlyArray<MetricDefinition<VmValueField>> = [
  metric('cpu_percent', 'cpuPercent', 'percent', 'CPU time of the domain over its vCPUs, 0-100'),
  metric('memory_used_bytes', 'memoryUsedBytes', 'bytes', 'memory the guest uses (balloon driver)'),
  metric('memory_available_bytes', 'memoryAvailableBytes', 'bytes', 'memory the guest sees (balloon driver)'),
  metric('memory_rss_bytes', 'memoryRssBytes', 'bytes', 'resident set of the QEMU process on the host'),
  metric(
    'memory_current_bytes',
    'memoryCurrentBytes',
    'bytes',
    'memory the guest was given (balloon target)',
  ),
  metric('memory_unused_bytes', 'memoryUnusedBytes', 'bytes', 'memory the guest leaves unused (its MemFree)'),
  metric(
    'memory_usable_bytes',
    'memoryUsableBytes',
    'bytes',
    'memory the guest could use (its MemAvailable)',
  ),
  metric('disk_read_bps', 'diskReadBps', 'bytes_per_second', 'bytes read from its disks per second'),
  metric('disk_write_bps', 'diskWriteBps', 'bytes_per_second', 'bytes written to its disks per second'),
  metric('disk_read_iops', 'diskReadIops', 'operations_per_second', 'disk read requests per second'),
  metric('disk_write_iops', 'diskWriteIops', 'operations_per_second', 'disk write requests per second'),
  metric('net_rx_bps', 'netRxBps', 'bytes_per_second', 'bytes received by the guest per second'),
  metric('net_tx_bps', 'netTxBps', 'bytes_per_second', 'bytes sent by the guest per second'),
  metric('net_rx_pps', 'netRxPps', 'packets_per_second', 'packets received by the guest per second'),
  metric('net_tx_pps', 'netTxPps', 'packets_per_second', 'packets sent by the guest per second'),
];

/** The metrics kept per host: the HostSample value fields, in the column order of the 0006 tables. */
export const HOST_METRICS: ReadonlyArray<MetricDefinition<HostValueField>> = [
  metric('cpu_percent', 'cpuPercent', 'percent', 'busy share of all host CPUs, 0-100'),
  metric('memory_total_bytes', 'memoryTotalBytes', 'bytes', 'physical memory'),
  metric(
    'memory_used_bytes',
    'memoryUsedBytes',
    'bytes',
    'physical memory in use (total - free - buffers - cached)',
  ),
  metric('memory_available_bytes', 'memoryAvailableBytes', 'bytes', 'free + buffers + cached'),
];

/** Whose samples a table holds: its tables are `metric_<subject>_<tier>`, keyed by `<subject>_id`. */
export type Subject = 'vm' | 'host';

export const METRICS_OF: Record<Subject, ReadonlyArray<MetricDefinition<string>>> = {
  vm: VM_METRICS,
  host: HOST_METRICS,
};
