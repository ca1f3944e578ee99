import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LogLevel } from '../config/config.ts';
import type { HostService } from '../hosts/host-service.ts';

/** The demo's hosts, named like the seed's: vapor-node-01.corp.awan.io, vapor-node-02.corp.awan.io, … */
export const demoHostname = (index: number): string =>
  `vapor-node-${String(index + 1).padStart(2, '0')}.corp.awan.io`;

/** VMs on each simulated demo host. */
export const DEMO_VMS_PER_HOST = 5;

/** How long a demo agent may take to stop after SIGTERM before it is killed. */
const STOP_DEADLINE_MS = 5_000;

export interface DemoAgentsOptions {
  count: number;
  /** `node <path>`: the agent's command (packages/agent/bin/cockpit-agent.mjs). */
  agentBin: string;
  dataDir: string;
  hosts: Pick<HostService, 'createOwnJoinToken'>;
  /** `host:port` the agents dial, and the CA fingerprint they pin (null: the listener runs plaintext). */
  controllerAddress: string;
  caFingerprint: string | null;
  logLevel: LogLevel;
  log: Logger;
}

export interface DemoAgents {
  hostnames: string[];
  /** The agents' process ids (for tests and the log). */
  pids(): number[];
  /** SIGTERM to each agent still running; resolves once all have exited (a late one is killed). */
  stop(): Promise<void>;
}

/** Where demo agent `hostname` keeps its credential, cursor and command record. */
export const demoStateDir = (dataDir: string, hostname: string): string =>
  join(dataDir, 'demo-agents', hostname);

/**
 * Starts `count` `cockpit-agent` processes on the simulated driver against this controller (the
 * COCKPIT_DEMO_AGENTS demo). Each keeps its state under `<data dir>/demo-agents/<hostname>/`: the first
 * start gives it a join token made through the host service, later starts find its credential there and
 * join nothing new. Each runs in its own process group, so a Ctrl-C at the terminal reaches the
 * controller alone, which stops them once (a second signal would make an agent exit at once), and each
 * has an IPC channel to the controller: an agent stops by itself when the controller is gone, even
 * after a SIGKILL.
 */
export async function startDemoAgents(options: DemoAgentsOptions): Promise<DemoAgents> {
  const { log } = options;
  const hostnames = Array.from({ length: options.count }, (_, i) => demoHostname(i));
  const children = new Map<string, { child: ChildProcess; exited: Promise<void> }>();
  let stopping = false;

  for (const hostname of hostnames) {
    const stateDir = demoStateDir(options.dataDir, hostname);
    const env = agentEnvironment();
    // Tokens go through the environment, not argv, where `ps` would show them.
    if (!existsSync(join(stateDir, 'credential.json'))) {
      const token = await options.hosts.createOwnJoinToken('COCKPIT_DEMO_AGENTS', 600);
      env.COCKPIT_AGENT_JOIN_TOKEN = token.token;
    }
    const trust =
      options.caFingerprint === null ? ['--insecure-plaintext'] : ['--ca-sha256', options.caFingerprint];
    const child = spawn(
      process.execPath,
      [
        options.agentBin,
        '--controller',
        demoDialAddress(options.controllerAddress),
        ...trust,
        '--driver',
        'simulated',
        '--hostname',
        hostname,
        '--state-dir',
        stateDir,
        '--sim-vms',
        String(DEMO_VMS_PER_HOST),
        '--sim-seed',
        'demo',
        // Two agents on one machine cannot share the default 127.0.0.1:9480.
        '--metrics-listen',
        'off',
        '--log-level',
        agentLogLevel(options.logLevel),
      ],
      { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true },
    );
    const exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        children.delete(hostname);
        if (stopping) log.info({ hostname, pid: child.pid, code, signal }, 'demo agent stopped');
        else log.error({ hostname, pid: child.pid, code, signal }, 'demo agent exited; its lines say why');
        resolve();
      });
      child.on('error', (err) => {
        log.error({ err, hostname }, 'demo agent could not be started');
        children.delete(hostname);
        resolve();
      });
    });
    children.set(hostname, { child, exited });
    log.info({ hostname, pid: child.pid, stateDir }, 'demo agent started (simulated driver)');
  }

  return {
    hostnames,
    pids: () => [...children.values()].flatMap(({ child }) => (child.pid === undefined ? [] : [child.pid])),
    async stop() {
      stopping = true;
      await Promise.all(
        [...children.values()].map(async ({ child, exited }) => {
          child.kill('SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((resolve) => {
            timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS);
          });
          if ((await Promise.race([exited, late])) === 'late') {
            log.warn({ pid: child.pid }, 'demo agent did not stop in time: killed');
            child.kill('SIGKILL');
            await exited;
          }
          clearTimeout(timer);
        }),
      );
    },
  };
}

/**
 * The address the demo agents dial: what the controller advertises, but `localhost` for 127.0.0.1 (the
 * default listener; the generated certificate covers both), since grpc-js hands an IP to TLS as the
 * server name and Node then prints a deprecation warning (RFC 6066) from every agent.
 */
export function demoDialAddress(advertised: string): string {
  return advertised.replace(/^127\.0\.0\.1:/, 'localhost:');
}

/** The controller's environment without COCKPIT_* settings: the flags above say everything. */
function agentEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('COCKPIT_')) env[name] = value;
  }
  return env;
}

/** The agents say only what goes wrong (warn), or less when the controller is set quieter. */
function agentLogLevel(controller: LogLevel): LogLevel {
  return ['error', 'fatal', 'silent'].includes(controller) ? controller : 'warn';
}
