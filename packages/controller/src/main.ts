import { isSigningKeyError } from './auth/signing-keys.ts';
import { isConfigError } from './config/config.ts';
import { startController } from './controller.ts';
import { isEmbeddedDatabaseError } from './database/embedded-database.ts';
import { isAdminPasswordError } from './users/ensure-admin-user.ts';

// `pnpm start`: one controller in the foreground until SIGINT/SIGTERM.
// Exit codes: 0 after a clean shutdown, 2 for a configuration it must not start with, 1 otherwise.

// pnpm runs the script in the package folder; a relative COCKPIT_DATA_DIR means the folder the
// user ran the command in (INIT_CWD), so `./.cockpit` is where they expect it.
const cwd = process.env.INIT_CWD ?? process.cwd();

try {
  const controller = await startController({ cwd });
  const log = controller.services.log;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    controller.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  if (isConfigError(err) || isSigningKeyError(err) || isAdminPasswordError(err)) {
    process.stderr.write(`cockpit: ${err.message}\n`);
    process.exit(2);
  }
  if (isEmbeddedDatabaseError(err)) {
    process.stderr.write(`cockpit: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `cockpit: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
