import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePortRange } from './free-ports.ts';

const execFileAsync = promisify(execFile);

const scriptsDir = fileURLToPath(new URL('../../../../deploy/dev/libvirt-host/', import.meta.url));

/** How many ports each host reserves: its libvirtd TCP port, then its incoming-migration range. */
const PORTS_PER_HOST = 11;

export interface LibvirtHostOptions {
  /**
   * Host name (also its hostname); [a-z0-9-]. Default: `$LIBVIRT_HOST_NAME_PREFIX-` (default `lvh`)
   * and a random suffix, so that parallel work can tell its hosts apart.
   */
  name?: string;
  /** libvirtd's TCP port on 127.0.0.1. Default: a free one. */
  tcpPort?: number;
  /** Ports QEMU may take for incoming migrations. Default: the 10 ports after tcpPort. */
  migrationPorts?: { min: number; max: number };
}

/** A running harness host (deploy/dev/libvirt-host/start.sh). */
export interface LibvirtHost {
  name: string;
  /** `qemu+tcp://127.0.0.1:PORT/system` (no authentication). */
  uri: string;
  tcpUri: string;
  tcpPort: number;
  /** libvirtd's read-write unix socket, reachable from the root namespace. */
  socketPath: string;
  /** `qemu+unix:///system?socket=...` */
  unixUri: string;
  hostUuid: string;
  stateDir: string;
  migrationPorts: { min: number; max: number };
  /**
   * Starts a process "on" the host: in its mount and UTS namespaces (deploy/dev/libvirt-host/exec.sh),
   * where `qemu:///system` is this host's libvirtd and the hostname is `name`. `stop()` ends it too.
   */
  spawn(command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Ends libvirtd, virtlogd and every guest of the host and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** Error of a failed harness script, with its output. */
export class LibvirtHostError extends Error {
  readonly code = 'LIBVIRT_HOST_FAILED';
  constructor(
    message: string,
    readonly output: string,
    options?: ErrorOptions,
  ) {
    super(`${message}: ${output.trim()}`, options);
    this.name = 'LibvirtHostError';
  }
}

export function isLibvirtHostError(err: unknown): err is LibvirtHostError {
  return err instanceof LibvirtHostError;
}

async function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(`${scriptsDir}${script}`, args, {
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const failure = err as { stdout?: unknown; stderr?: unknown };
    const output = `${String(failure.stdout ?? '')}${String(failure.stderr ?? '')}`;
    throw new LibvirtHostError(`${script} ${args.join(' ')} failed`, output, { cause: err });
  }
}

function parseKeyValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values;
}

/** Starts (or finds running) a libvirt host in its own namespaces; see deploy/dev/libvirt-host. */
export async function startLibvirtHost(options: LibvirtHostOptions = {}): Promise<LibvirtHost> {
  const prefix = process.env.LIBVIRT_HOST_NAME_PREFIX ?? 'lvh';
  const name = options.name ?? `${prefix}-${randomBytes(3).toString('hex')}`;
  const tcpPort = options.tcpPort ?? (await freePortRange(PORTS_PER_HOST));
  const range = options.migrationPorts ?? { min: tcpPort + 1, max: tcpPort + PORTS_PER_HOST - 1 };
  const out = await runScript('start.sh', [name, String(tcpPort)], {
    LIBVIRT_HOST_MIGRATION_PORTS: `${range.min}-${range.max}`,
  });
  const values = parseKeyValues(out);
  const value = (key: string): string => {
    const found = values.get(key);
    if (found === undefined) throw new LibvirtHostError(`start.sh printed no ${key}`, out);
    return found;
  };
  let stopped: Promise<void> | undefined;
  return {
    name,
    uri: value('uri'),
    tcpUri: value('uri'),
    tcpPort,
    socketPath: value('socket'),
    unixUri: value('unix_uri'),
    hostUuid: value('host_uuid'),
    stateDir: value('state_dir'),
    migrationPorts: range,
    spawn(command, args = [], spawnOptions = {}) {
      return spawn(`${scriptsDir}exec.sh`, [name, command, ...args], spawnOptions);
    },
    stop() {
      stopped ??= runScript('stop.sh', [name]).then(() => undefined);
      return stopped;
    },
  };
}

/** Stops the host called `name` whether or not this process started it. */
export async function stopLibvirtHost(name: string): Promise<void> {
  await runScript('stop.sh', [name]);
}
