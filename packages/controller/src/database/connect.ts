import type { Logger } from 'pino';
import postgres from 'postgres';
import type { Sql } from './sql.ts';

/** How long one statement may run unless configured otherwise (COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;

export interface ConnectOptions {
  /** Pool size. The embedded PGlite serves one connection at a time, so it is connected with 1. */
  max?: number;
  /**
   * The server cancels any statement running longer (PostgreSQL's `statement_timeout`; 0: no limit),
   * so a stuck query frees its connection instead of holding a slot of the pool forever. PGlite
   * accepts the setting but does not enforce it (nor cancel requests): WebAssembly has no timer signal.
   */
  statementTimeoutMs?: number;
  log?: Logger;
}

/** The one way the controller opens a database, for a real server and the embedded PGlite alike. */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  const log = options.log;
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: 10,
    // Idle connections are closed so a quiet controller does not hold server slots.
    idle_timeout: 60,
    // Startup parameters: every connection of the pool gets them, also those opened later.
    connection: {
      application_name: 'cockpit-controller',
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    },
    // Notices ("relation already exists, skipping") are not errors; keep them out of stderr.
    onnotice: (notice) => log?.debug({ notice: notice.message }, 'postgres notice'),
  });
}
