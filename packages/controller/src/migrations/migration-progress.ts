import type { MigrationProgress } from '@cockpit/proto';
import type { MigrationProgressView } from './migration-schema.ts';

/** libvirt's job statistics as the agent sends them, in the API's terms. */
export const progressView = (p: MigrationProgress): MigrationProgressView => ({
  data_total: p.dataTotal,
  data_processed: p.dataProcessed,
  data_remaining: p.dataRemaining,
  memory_total: p.memoryTotal,
  memory_processed: p.memoryProcessed,
  memory_remaining: p.memoryRemaining,
  memory_bps: p.memoryBps,
  elapsed_ms: p.elapsedMs,
  downtime_ms: p.downtimeMs,
  iteration: p.iteration,
  post_copy: p.postCopy,
});
