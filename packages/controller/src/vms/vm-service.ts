import type { Sql } from '../database/sql.ts';
import { listVms, type VmFilter } from './vm-queries.ts';
import type { VmView } from './vm-schema.ts';

/**
 * The virtual machines. Read-only for now: the agents' sync ingest and the command router (power
 * actions, migrations) add their changes here, beside the reads the REST routes use.
 */
export interface VmService {
  list(filter?: VmFilter): Promise<VmView[]>;
}

export function createVmService({ sql }: { sql: Sql }): VmService {
  return { list: (filter) => listVms(sql, filter) };
}
