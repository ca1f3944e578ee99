import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './config/config.ts';

/**
 * The controller's structured logger: JSON lines, or readable coloured lines when stdout is a
 * terminal (a person watching `pnpm start`; services and pipes get JSON). Credentials never reach the log: authorization headers,
 * passwords and tokens are redacted at the top level of a logged object and under `body` and `headers`.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cockpit-controller' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        // Named paths, not wildcards: `*.password` made redaction cost as much as the rest of a log line.
        paths: [
          'authorization',
          'password',
          'current_password',
          'new_password',
          'token',
          'refresh_token',
          'headers.authorization',
          'req.headers.authorization',
          'body.password',
          'body.current_password',
          'body.new_password',
          'body.token',
          'body.refresh_token',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? (process.stdout.isTTY ? terminalStream() : undefined),
  );
}

/** Human-readable lines for a terminal: time, level, message, then the fields. */
const terminalStream = (): DestinationStream =>
  pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
