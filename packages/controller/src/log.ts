import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './config/config.ts';

/**
 * The controller's structured JSON logger. Credentials never reach the log: authorization headers,
 * passwords and tokens are redacted wherever they appear in a logged object.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cockpit-controller' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          'password',
          'token',
          'refresh_token',
          '*.authorization',
          '*.password',
          '*.token',
          '*.refresh_token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
