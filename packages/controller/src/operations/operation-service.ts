import type { Sql } from '../database/sql.ts';
import type { Notifier } from '../notifier/notifier.ts';
import { ServiceError } from '../service-error.ts';
import { findOperation, listOperations, type OperationFilter } from './operation-queries.ts';
import { FINAL_OPERATION_STATUSES, type OperationView } from './operation-schema.ts';

/** How often a waiting caller reads the operation again when no notification came. */
const FALLBACK_POLL_MS = 2_000;

export interface OperationPage {
  operations: OperationView[];
  /** The `before` of the next page; null on the last one. */
  nextBefore: string | null;
}

/** The REST view of long-running things: read one, list them, wait for one to finish. */
export interface OperationService {
  /** Throws `not_found`. */
  get(id: string): Promise<OperationView>;
  list(filter: OperationFilter, page: { limit: number; before?: string }): Promise<OperationPage>;
  /**
   * The operation once it is final, or as it stands after `timeoutMs`. Woken by the notifier's
   * `operations` topic, with a coarse poll behind it; never a tight loop. Throws `not_found`.
   */
  wait(id: string, timeoutMs: number): Promise<OperationView>;
}

export function createOperationService({
  sql,
  notifier,
}: {
  sql: Sql;
  notifier: Notifier;
}): OperationService {
  const waiters = new Map<string, Set<() => void>>();
  notifier.subscribe('operations', (id) => {
    for (const wake of waiters.get(id.toLowerCase()) ?? []) wake();
  });

  const get = async (id: string) => {
    const operation = await findOperation(sql, id);
    if (operation === null) throw new ServiceError('not_found', 'no such operation');
    return operation;
  };

  return {
    get,

    async list(filter, page) {
      const operations = await listOperations(sql, filter, page);
      const last = operations.at(-1);
      return {
        operations,
        nextBefore: operations.length === page.limit && last !== undefined ? last.id : null,
      };
    },

    async wait(id, timeoutMs) {
      const key = id.toLowerCase();
      const until = Date.now() + timeoutMs;
      let wake: () => void = () => undefined;
      const set = waiters.get(key) ?? new Set();
      waiters.set(key, set);
      let signalled = false;
      const waker = () => {
        signalled = true;
        wake();
      };
      set.add(waker);
      try {
        for (;;) {
          signalled = false;
          const operation = await get(key);
          const left = until - Date.now();
          if (FINAL_OPERATION_STATUSES.has(operation.status) || left <= 0) return operation;
          if (signalled) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, FALLBACK_POLL_MS));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        set.delete(waker);
        if (set.size === 0) waiters.delete(key);
      }
    },
  };
}
