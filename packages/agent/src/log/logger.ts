import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/agent-config.ts';

/**
 * The agent's structured JSON logger (one line per event). Credentials and join tokens never reach the
 * log: those fields are redacted wherever the agent logs them.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cockpit-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['credential', 'joinToken', 'authorization'], censor: '[redacted]' },
    },
    destination,
  );
}
