import { isSigningKeyError } from './auth/signing-keys.ts';
import { systemClock } from './clock.ts';
import { isConfigError, loadConfig } from './config/config.ts';
import { startController } from './controller.ts';
import { PRIVATE_UMASK } from './data-dir/private-files.ts';
import { isEmbeddedDatabaseError } from './database/embedded-database.ts';
import { migrate } from './database/migrate.ts';
import { openDatabase } from './database/open-database.ts';
import { createLogger } from './log.ts';
import { signalHandler } from './shutdown.ts';
import { isAdminPasswordError } from './users/ensure-admin-user.ts';
import { resetAdminPassword } from './users/reset-admin-password.ts';

// `cockpit-controller [serve]`: one controller in the foreground until SIGINT/SIGTERM.
// `cockpit-controller reset-admin-password`: a new password for `admin` (see docs/auth.md).
// Exit codes: 0 after a clean shutdown, 2 for a configuration it must not start with or a bad
// command line, 1 otherwise.

const USAGE = `usage: cockpit-controller [serve | reset-admin-password | help]
  serve                  run the controller (the default); configured by COCKPIT_* variables
  reset-admin-password   give the admin user a new password (COCKPIT_ADMIN_PASSWORD, or a generated one
                         printed and kept in <data dir>/initial-admin-password), enable it, end its sessions;
                         with the embedded database, stop the controller first
`;

// Everything the controller writes (database, keys, CA, the first password) is its user's alone.
process.umask(PRIVATE_UMASK);

// A relative COCKPIT_DATA_DIR means the folder the user ran the command in: pnpm runs scripts in
// the package folder and says where it was started in INIT_CWD.
const cwd = process.env.INIT_CWD ?? process.cwd();

const command = process.argv[2] ?? 'serve';
try {
  if (command === 'serve') await serve();
  else if (command === 'reset-admin-password') await resetAdmin();
  else if (command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE);
  else {
    process.stderr.write(`cockpit: unknown command "${command}"\n${USAGE}`);
    process.exit(2);
  }
} catch (err) {
  exitForStartError(err);
}

async function serve(): Promise<void> {
  // Signals are ours from the first moment: one that arrives while the controller starts (a service
  // manager stopping it early) stops it as soon as it is up, its database closed cleanly, instead of
  // killing it mid-start; a second one exits at once.
  let stop: ((signal: string) => void) | undefined;
  let early: string | undefined;
  const onSignal = (signal: string) => {
    if (stop) stop(signal);
    else if (early === undefined) early = signal;
    else process.exit(1);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const controller = await startController({ cwd });
  stop = signalHandler(controller, controller.services.log, (code) => process.exit(code));
  if (early !== undefined) stop(early);
}

async function resetAdmin(): Promise<void> {
  const config = loadConfig(process.env, cwd);
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const database = await openDatabase(config, log);
  try {
    await migrate(database.sql);
    const outcome = await resetAdminPassword({ sql: database.sql, config, clock: systemClock, log });
    const lines = [
      `cockpit: ${outcome.created ? 'created' : 'reset'} the user "admin" (enabled, role admin, every session ended).`,
    ];
    if (outcome.file === undefined) lines.push('Its password is now COCKPIT_ADMIN_PASSWORD.');
    else
      lines.push(
        'Its new password:',
        '',
        `   ${outcome.password}`,
        '',
        `(also kept in ${outcome.file} until changed)`,
      );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await database.close();
  }
}

function exitForStartError(err: unknown): never {
  if (isConfigError(err) || isSigningKeyError(err) || isAdminPasswordError(err)) {
    process.stderr.write(`cockpit: ${err.message}\n`);
    process.exit(2);
  }
  if (isEmbeddedDatabaseError(err)) {
    const hint = command === 'reset-admin-password' ? ' (stop the controller first)' : '';
    process.stderr.write(`cockpit: ${err.message}${hint}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `cockpit: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
