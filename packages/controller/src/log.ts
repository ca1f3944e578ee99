import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './config/config.ts';

/**
 * The controller's structured JSON logger. Credentials never reach the log: authorization headers,
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
    destination,
  );
}
