import type { HostSample, VmSample } from '@cockpit/proto';

/**
 * Where the metrics sampler will read performance samples: a driver that can offers one (libvirt's bulk
 * domain statistics and node statistics, or the simulated driver's plausible numbers), and the sampler
 * sends them up the stream in MetricsBatch at Welcome.metrics_interval_ms. This agent version samples
 * nothing yet; this is the shape the sampler and the drivers meet at.
 */
export interface MetricsSource {
  /** Rates and levels since the previous call (none on the first call for a VM, or after a counter reset). */
  sample(signal?: AbortSignal): Promise<{ host: HostSample; vms: VmSample[] }>;
}
