import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isSigningKeyError } from './auth/signing-keys.ts';
import { systemClock } from './clock.ts';
import { ConfigError, isConfigError, loadConfig } from './config/config.ts';
import { type RunningController, startController } from './controller.ts';
import { PRIVATE_UMASK } from './data-dir/private-files.ts';
import { isEmbeddedDatabaseError } from './database/embedded-database.ts';
import { migrate } from './database/migrate.ts';
import { openDatabase } from './database/open-database.ts';
import { type DemoAgents, startDemoAgents } from './demo/demo-agents.ts';
import { type AdminPasswordSource, demoBanner } from './demo/demo-banner.ts';
import { limitHeapGrowth } from './heap-growth.ts';
import { createLogger } from './log.ts';
import { signalHandler } from './shutdown.ts';
import { initialPasswordFile, isAdminPasswordError } from './users/ensure-admin-user.ts';
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

// The demo agents' command: packages/agent beside this package (src/main.ts and dist/main.js alike).
const AGENT_BIN = fileURLToPath(new URL('../../agent/bin/cockpit-agent.mjs', import.meta.url));
const AGENT_MAIN = fileURLToPath(new URL('../../agent/dist/main.js', import.meta.url));

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
  const { demoAgents, heapGrowthPercent } = loadConfig(process.env, cwd);
  limitHeapGrowth(heapGrowthPercent);
  if (demoAgents > 0 && !existsSync(AGENT_MAIN)) {
    throw new ConfigError([
      {
        variable: 'COCKPIT_DEMO_AGENTS',
        message: `the demo agents need the built agent (${AGENT_MAIN}): run pnpm install, or set COCKPIT_DEMO_AGENTS=0`,
      },
    ]);
  }
  const controller = await startController({ cwd });
  let demo: DemoAgents | undefined;
  try {
    if (demoAgents > 0) demo = await startDemo(controller, demoAgents);
  } catch (err) {
    await controller.close();
    throw err;
  }
  // The demo agents stop first, so that none sees its controller vanish and starts reconnecting.
  const whole = {
    config: controller.config,
    close: async () => {
      await demo?.stop();
      await controller.close();
    },
  };
  stop = signalHandler(whole, controller.services.log, (code) => process.exit(code));
  if (early !== undefined) stop(early);
}

async function startDemo(controller: RunningController, count: number): Promise<DemoAgents> {
  const { config, services } = controller;
  const demo = await startDemoAgents({
    count,
    agentBin: AGENT_BIN,
    dataDir: config.dataDir,
    hosts: services.hosts,
    controllerAddress: controller.grpc.advertisedAddress,
    caFingerprint: services.agentEndpoint.caFingerprint,
    logLevel: config.logLevel,
    log: services.log,
  });
  const passwordFile = initialPasswordFile(config.dataDir);
  const password: AdminPasswordSource = existsSync(passwordFile)
    ? { kind: 'file', file: passwordFile }
    : config.adminPassword !== undefined
      ? { kind: 'configured' }
      : { kind: 'chosen' };
  process.stdout.write(demoBanner({ url: controller.url, hostnames: demo.hostnames, password }));
  return demo;
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
