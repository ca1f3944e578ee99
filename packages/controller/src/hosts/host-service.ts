import type { Sql } from '../database/sql.ts';
import { listHosts } from './host-queries.ts';
import type { HostView } from './host-schema.ts';

/**
 * The hypervisor hosts. Read-only for now: the agents' gRPC service adds registration, connection
 * state and the sync cursor here, so the REST routes and the agent path share one set of rules.
 */
export interface HostService {
  list(): Promise<HostView[]>;
}

export function createHostService({ sql }: { sql: Sql }): HostService {
  return { list: () => listHosts(sql) };
}
