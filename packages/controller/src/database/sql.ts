import type postgres from 'postgres';

/** The one query path: a `postgres` (porsager) client, for a real server and the embedded PGlite alike. */
export type Sql = postgres.Sql;

/** A transaction of `Sql.begin`: query functions that may run inside one take `Sql | Tx`. */
export type Tx = postgres.TransactionSql;

/**
 * Cancels `query` on the server when `signal` aborts (PostgreSQL's cancel request; a query still
 * waiting for a connection just leaves the queue), so work whose caller gave up frees its connection.
 */
export function cancelOnAbort<Rows extends readonly postgres.MaybeRow[]>(
  query: postgres.PendingQuery<Rows>,
  signal: AbortSignal | undefined,
): Promise<postgres.RowList<Rows>> {
  if (signal === undefined) return query;
  if (signal.aborted) query.cancel();
  const cancel = () => query.cancel();
  signal.addEventListener('abort', cancel, { once: true });
  return query.finally(() => signal.removeEventListener('abort', cancel));
}
