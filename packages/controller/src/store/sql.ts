import type postgres from 'postgres';

/** The one query path: a `postgres` (porsager) client, for a real server and the embedded PGlite alike. */
export type Sql = postgres.Sql;
