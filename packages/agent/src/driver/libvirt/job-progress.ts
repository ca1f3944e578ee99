import {
  type TypedParamRecord,
  VIR_DOMAIN_JOB_DATA_PROCESSED,
  VIR_DOMAIN_JOB_DATA_REMAINING,
  VIR_DOMAIN_JOB_DATA_TOTAL,
  VIR_DOMAIN_JOB_DOWNTIME,
  VIR_DOMAIN_JOB_MEMORY_BPS,
  VIR_DOMAIN_JOB_MEMORY_ITERATION,
  VIR_DOMAIN_JOB_MEMORY_PROCESSED,
  VIR_DOMAIN_JOB_MEMORY_REMAINING,
  VIR_DOMAIN_JOB_MEMORY_TOTAL,
  VIR_DOMAIN_JOB_TIME_ELAPSED,
} from '@cockpit/libvirt';
import type { MigrationProgress } from '@cockpit/proto';

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0);

/**
 * libvirt's job statistics (virDomainGetJobStats, or the job-completed event) as MigrationProgress.
 * A figure libvirt does not report is 0 (downtime, for one, is known only once the VM switched over).
 */
export function progressOf(stats: TypedParamRecord, postCopy: boolean): MigrationProgress {
  return {
    dataTotal: num(stats[VIR_DOMAIN_JOB_DATA_TOTAL]),
    dataProcessed: num(stats[VIR_DOMAIN_JOB_DATA_PROCESSED]),
    dataRemaining: num(stats[VIR_DOMAIN_JOB_DATA_REMAINING]),
    memoryTotal: num(stats[VIR_DOMAIN_JOB_MEMORY_TOTAL]),
    memoryProcessed: num(stats[VIR_DOMAIN_JOB_MEMORY_PROCESSED]),
    memoryRemaining: num(stats[VIR_DOMAIN_JOB_MEMORY_REMAINING]),
    memoryBps: num(stats[VIR_DOMAIN_JOB_MEMORY_BPS]),
    elapsedMs: num(stats[VIR_DOMAIN_JOB_TIME_ELAPSED]),
    downtimeMs: num(stats[VIR_DOMAIN_JOB_DOWNTIME]),
    iteration: num(stats[VIR_DOMAIN_JOB_MEMORY_ITERATION]),
    postCopy,
  };
}
