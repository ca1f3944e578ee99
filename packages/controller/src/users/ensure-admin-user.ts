import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { insertAuditEntry } from '../audit/audit-queries.ts';
import { hashPassword, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { CodedError } from '../coded-error.ts';
import type { Config } from '../config/config.ts';
import type { Sql } from '../database/sql.ts';
import { countUsers, insertUser } from './user-queries.ts';

export const FIRST_ADMIN_USERNAME = 'admin';

/**
 * Where a generated first password is also kept (mode 0600), as Argo CD and Jenkins do, so a lost
 * terminal does not lose it; removed when the admin's password changes.
 */
export const initialPasswordFile = (dataDir: string): string => join(dataDir, 'initial-admin-password');

export function writeInitialPasswordFile(dataDir: string, password: string): string {
  const file = initialPasswordFile(dataDir);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode on write
  return file;
}

export const removeInitialPasswordFile = (dataDir: string): void =>
  rmSync(initialPasswordFile(dataDir), { force: true });

/** COCKPIT_ADMIN_PASSWORD shorter than the password policy allows. */
export class AdminPasswordError extends CodedError<'weak_admin_password'> {}

export const isAdminPasswordError = (err: unknown): err is AdminPasswordError =>
  err instanceof AdminPasswordError;

export interface EnsureAdminDeps {
  sql: Sql;
  config: Pick<Config, 'adminPassword' | 'dataDir'>;
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
  // The first admin has no creator to name: the audit log says the first start made it, and how.
  await insertAuditEntry(sql, {
    at: new Date(user.created_at),
    requestId: null,
    actorId: null,
    actorUsername: 'cockpit (first start)',
    action: 'create first admin',
    method: 'START',
    path: '-',
    target: `user:${user.id}`,
    result: 'success',
    status: 0,
    clientAddress: null,
    detail: {
      username: FIRST_ADMIN_USERNAME,
      role: 'admin',
      password: configured !== undefined ? 'COCKPIT_ADMIN_PASSWORD' : 'generated',
    },
  });
  if (configured !== undefined) {
    log.info({ username: FIRST_ADMIN_USERNAME }, 'created the first admin user from COCKPIT_ADMIN_PASSWORD');
    return 'created';
  }
  const file = writeInitialPasswordFile(config.dataDir, password);
  const print = deps.print ?? ((text: string) => process.stdout.write(text));
  print(
    [
      '',
      '================================================================',
      ` Cockpit created the first user "${FIRST_ADMIN_USERNAME}" with this password:`,
      '',
      `   ${password}`,
      '',
      ` It is shown only this once, and kept in ${file}`,
      ' (readable by its owner only) until you change it. Log in and change it,',
      ' or set COCKPIT_ADMIN_PASSWORD before the first start. Lost it? Stop the',
      ' controller and run: pnpm reset-admin-password',
      '================================================================',
      '',
      '',
    ].join('\n'),
  );
  log.warn(
    { username: FIRST_ADMIN_USERNAME, file },
    'created the first admin user with a generated password (printed once above and kept in the file until changed, not logged)',
  );
  return 'created-with-generated-password';
}
