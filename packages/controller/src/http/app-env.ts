import type { Logger } from 'pino';
import type { AuthService } from '../auth/auth-service.ts';
import type { Principal } from '../auth/principal.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/config.ts';
import type { Sql } from '../store/sql.ts';

/**
 * Everything a handler may use, handed in through Hono's typed context (`c.var.services`) rather
 * than imported singletons, so a test builds the app with its own database, clock and keys.
 */
export interface Services {
  config: Config;
  sql: Sql;
  clock: Clock;
  log: Logger;
  auth: AuthService;
}

export interface AppEnv {
  Variables: {
    services: Services;
    requestId: string;
    /** Set by the bearer-auth middleware on every route that requires a token. */
    principal: Principal;
  };
}
