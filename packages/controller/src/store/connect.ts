import type { Logger } from 'pino';
import postgres from 'postgres';
import type { Sql } from './sql.ts';

export interface ConnectOptions {
  /** Pool size. The embedded PGlite serves one connection at a time, so it is connected with 1. */
  max?: number;
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
    connection: { application_name: 'cockpit-controller' },
    // Notices ("relation already exists, skipping") are not errors; keep them out of stderr.
    onnotice: (notice) => log?.debug({ notice: notice.message }, 'postgres notice'),
  });
}
