import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { hashPassword, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { CodedError } from '../coded-error.ts';
import type { Config } from '../config/config.ts';
import type { Sql } from '../database/sql.ts';
import { countUsers, insertUser } from './user-queries.ts';

export const FIRST_ADMIN_USERNAME = 'admin';

/** COCKPIT_ADMIN_PASSWORD shorter than the password policy allows. */
export class AdminPasswordError extends CodedError<'weak_admin_password'> {}

export const isAdminPasswordError = (err: unknown): err is AdminPasswordError =>
  err instanceof AdminPasswordError;

export interface EnsureAdminDeps {
  sql: Sql;
  config: Pick<Config, 'adminPassword'>;
  log: Logger;
  clock?: Clock;
  /** Where a generated password is shown to the operator, once: stdout by default, apart from the log stream. */
  print?: (text: string) => void;
}

export type EnsureAdminOutcome = 'exists' | 'created' | 'created-with-generated-password';

/**
 * On the first start (no users at all) creates `admin` with COCKPIT_ADMIN_PASSWORD, or with a
 * generated password printed once. Later starts do nothing, even if `admin` was since deleted.
 * Replicas starting together race safely: the username is unique and only the winner prints.
 */
export async function ensureAdminUser(deps: EnsureAdminDeps): Promise<EnsureAdminOutcome> {
  const { sql, config, log } = deps;
  if ((await countUsers(sql)) > 0) return 'exists';
  const configured = config.adminPassword;
  if (configured !== undefined && configured.length < PASSWORD_MIN_LENGTH) {
    throw new AdminPasswordError(
      'weak_admin_password',
      `COCKPIT_ADMIN_PASSWORD must be at least ${PASSWORD_MIN_LENGTH} characters`,
    );
  }
  const password = configured ?? randomBytes(18).toString('base64url');
  const user = await insertUser(sql, {
    username: FIRST_ADMIN_USERNAME,
    passwordHash: await hashPassword(password),
    role: 'admin',
    now: (deps.clock ?? systemClock).now(),
  });
  if (user === null) return 'exists';
  if (configured !== undefined) {
    log.info({ username: FIRST_ADMIN_USERNAME }, 'created the first admin user from COCKPIT_ADMIN_PASSWORD');
    return 'created';
  }
  const print = deps.print ?? ((text: string) => process.stdout.write(text));
  print(
    [
      '',
      '================================================================',
      ` Cockpit created the first user "${FIRST_ADMIN_USERNAME}" with this password:`,
      '',
      `   ${password}`,
      '',
      ' It is shown only this once. Log in and change it, or set',
      ' COCKPIT_ADMIN_PASSWORD before the first start.',
      '================================================================',
      '',
      '',
    ].join('\n'),
  );
  log.warn(
    { username: FIRST_ADMIN_USERNAME },
    'created the first admin user with a generated password (printed once above, not logged)',
  );
  return 'created-with-generated-password';
}
