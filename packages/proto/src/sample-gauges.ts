import type { HostValueField, VmValueField } from './sample-fields.ts';

// The Prometheus names of the sampled values, the same on the agent's /metrics and the controller's, so one
// dashboard reads either: [metric name, sample field, factor to base units, help]. CPU as a 0-1 ratio.
export type SampleGauge<F extends string> = readonly [name: string, field: F, factor: number, help: string];

export const HOST_SAMPLE_GAUGES: ReadonlyArray<SampleGauge<HostValueField>> = [
  [
    'cockpit_host_cpu_usage_ratio',
    'cpuPercent',
    0.01,
    'Busy share of all host CPUs over the last period, 0-1.',
  ],
  ['cockpit_host_memory_total_bytes', 'memoryTotalBytes', 1, 'Physical memory of the host.'],
  [
    'cockpit_host_memory_used_bytes',
    'memoryUsedBytes',
    1,
    'Host memory in use (total - free - buffers - cached).',
  ],
  ['cockpit_host_memory_available_bytes', 'memoryAvailableBytes', 1, 'Host memory free, buffers and cache.'],
];

export const VM_SAMPLE_GAUGES: ReadonlyArray<SampleGauge<VmValueField>> = [
  [
    'cockpit_vm_cpu_usage_ratio',
    'cpuPercent',
    0.01,
    'CPU time of the VM over its vCPUs over the last period, 0-1.',
  ],
  ['cockpit_vm_memory_current_bytes', 'memoryCurrentBytes', 1, 'Memory the VM was given (balloon current).'],
  ['cockpit_vm_memory_available_bytes', 'memoryAvailableBytes', 1, 'Memory the guest sees (balloon driver).'],
  ['cockpit_vm_memory_used_bytes', 'memoryUsedBytes', 1, 'Memory the guest uses (available - unused).'],
  ['cockpit_vm_memory_unused_bytes', 'memoryUnusedBytes', 1, 'Memory the guest leaves unused (its MemFree).'],
  [
    'cockpit_vm_memory_usable_bytes',
    'memoryUsableBytes',
    1,
    'Memory the guest could use (its MemAvailable).',
  ],
  ['cockpit_vm_memory_rss_bytes', 'memoryRssBytes', 1, 'Resident set of the QEMU process on the host.'],
  ['cockpit_vm_disk_read_bytes_per_second', 'diskReadBps', 1, 'Disk bytes read per second, all disks.'],
  [
    'cockpit_vm_disk_written_bytes_per_second',
    'diskWriteBps',
    1,
    'Disk bytes written per second, all disks.',
  ],
  ['cockpit_vm_disk_read_requests_per_second', 'diskReadIops', 1, 'Disk read requests per second.'],
  ['cockpit_vm_disk_write_requests_per_second', 'diskWriteIops', 1, 'Disk write requests per second.'],
  ['cockpit_vm_network_receive_bytes_per_second', 'netRxBps', 1, 'Bytes per second into the guest.'],
  ['cockpit_vm_network_transmit_bytes_per_second', 'netTxBps', 1, 'Bytes per second out of the guest.'],
  ['cockpit_vm_network_receive_packets_per_second', 'netRxPps', 1, 'Packets per second into the guest.'],
  ['cockpit_vm_network_transmit_packets_per_second', 'netTxPps', 1, 'Packets per second out of the guest.'],
];
