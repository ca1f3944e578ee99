import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import { insertAuditEntry } from '../audit/audit-queries.ts';
import { hashPassword } from '../auth/passwords.ts';
import { revokeAllFamilies } from '../auth/refresh-tokens.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/config.ts';
import type { Sql } from '../database/sql.ts';
import { FIRST_ADMIN_USERNAME, writeInitialPasswordFile } from './ensure-admin-user.ts';
import { restoreAdmin } from './user-queries.ts';

export interface ResetAdminOutcome {
  password: string;
  /** The `admin` user did not exist and was created. */
  created: boolean;
  /** Where the generated password is kept; undefined when it came from COCKPIT_ADMIN_PASSWORD. */
  file?: string;
}

/**
 * `cockpit-controller reset-admin-password`, for an operator with shell access who lost the admin
 * password: `admin` gets COCKPIT_ADMIN_PASSWORD or a new generated one (kept, like the first, in
 * `<data dir>/initial-admin-password`), is enabled and made admin again (created if deleted), and
 * every session it had ends. In one transaction, audited as done from the command line by the
 * operating-system user who ran it.
 */
export async function resetAdminPassword(deps: {
  sql: Sql;
  config: Pick<Config, 'adminPassword' | 'dataDir'>;
  clock: Clock;
  log: Logger;
}): Promise<ResetAdminOutcome> {
  const { sql, config, clock } = deps;
  const password = config.adminPassword ?? randomBytes(18).toString('base64url');
  const passwordHash = await hashPassword(password);
  const now = clock.now();
  const { user, created } = await sql.begin(async (tx) => {
    const restored = await restoreAdmin(tx, { username: FIRST_ADMIN_USERNAME, passwordHash, now });
    await revokeAllFamilies(tx, restored.user.id, now, 'admin_password_reset');
    await insertAuditEntry(tx, {
      at: now,
      requestId: null,
      actorId: null,
      actorUsername: `${osUser()} (shell)`,
      action: 'reset-admin-password',
      method: 'CLI',
      path: 'cockpit-controller reset-admin-password',
      target: `user:${restored.user.id}`,
      result: 'success',
      status: 0,
      clientAddress: null,
    });
    return restored;
  });
  deps.log.warn({ username: user.username, created }, 'admin password reset from the command line');
  const file =
    config.adminPassword === undefined ? writeInitialPasswordFile(config.dataDir, password) : undefined;
  return { password, created, file };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
