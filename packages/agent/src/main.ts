import { isAgentStartError, startAgent } from './agent.ts';
import { parseCommandLine } from './config/agent-config.ts';
import { isConfigError } from './config/config-error.ts';
import { helpText } from './config/options.ts';
import { createLogger } from './log/logger.ts';
import { logProcessWarnings } from './log/process-warnings.ts';
import { isMetricsEndpointError } from './metrics/metrics-endpoint.ts';
import { AGENT_VERSION } from './version.ts';

// `cockpit-agent`: one agent in the foreground until SIGINT/SIGTERM, a thin wrapper of startAgent.
// Exit codes: 0 after a clean stop, 2 for a configuration it must not start with, 1 when it cannot go on
// (join refused, credential revoked, CA pin mismatch, anything unexpected).

const cwd = process.env.INIT_CWD ?? process.cwd();
const fail = (code: number, message: string): never => {
  process.stderr.write(`cockpit-agent: ${message}\n`);
  process.exit(code);
};

try {
  const parsed = parseCommandLine(process.argv.slice(2), process.env, cwd);
  if (parsed.kind === 'help') {
    process.stdout.write(helpText());
    process.exit(0);
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    process.exit(0);
  }
  const log = createLogger(parsed.config.logLevel);
  logProcessWarnings(log);
  // Signals are ours from the first moment: one that arrives while the agent starts stops it as soon
  // as it is up (its journal closed cleanly) instead of killing it mid-start.
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  let signalled: string | undefined;
  const stop = (signal: string) => {
    if (signalled !== undefined) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    signalled = signal;
    log.info({ signal }, 'stopping');
    void agent?.close();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Started by a process that holds an IPC channel to it (the controller's demo agents): it stops when
  // that process is gone, even one killed without a chance to stop it. The channel keeps nothing alive.
  if (process.channel !== undefined) {
    process.channel.unref();
    process.on('disconnect', () => stop('parent process gone'));
  }
  agent = await startAgent({ config: parsed.config, log });
  if (signalled !== undefined) void agent.close();
  const stopped = await agent.stopped;
  if (stopped.kind === 'revoked') {
    log.fatal({ message: stopped.message }, 'host revoked');
    fail(
      1,
      `the controller revoked this host${stopped.message ? ` (${stopped.message})` : ''}; its credential was moved to ` +
        `credential.revoked.json in ${parsed.config.stateDir}. Join again with a new --join-token to return.`,
    );
  }
  if (stopped.kind === 'failed') {
    log.fatal({ err: stopped.error }, 'agent failed');
    fail(1, stopped.error.message);
  }
  log.info('stopped');
  process.exit(0);
} catch (err) {
  if (isConfigError(err) || isAgentStartError(err)) fail(2, err.message);
  if (isMetricsEndpointError(err)) fail(1, err.message);
  fail(1, `failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}
