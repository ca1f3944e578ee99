import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { libvirtUriProblem, migrationUriFor } from '../driver/libvirt/libvirt-uri.ts';
import { parseSimMigrationUri, SIM_MIGRATION_SCHEME } from '../driver/simulated/sim-migration-wire.ts';
import { DEFAULT_METRICS_LISTEN, type MetricsConfig, parseListenAddress } from '../metrics/metrics-config.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { type ControllerAddress, isLoopbackHost, parseControllerAddress } from './controller-address.ts';
import type { OptionName } from './options.ts';
import { type RawSettings, readSettings, settingName } from './read-settings.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the agent trusts the controller. */
export type TlsConfig =
  | { mode: 'ca-file'; caFile: string; caPem: string }
  /** `fingerprint`: 64 lower-case hex digits. */
  | { mode: 'ca-sha256'; fingerprint: string }
  | { mode: 'insecure-plaintext' };

export interface SimulatedConfig {
  vmCount: number;
  seed: string;
  changesPerMinute: number;
  crashes: boolean;
  opDelayMs: number;
}

export interface AgentConfig {
  controller: ControllerAddress;
  driver: 'libvirt' | 'simulated';
  libvirtUri: string;
  migrationUri: string;
  /** Folders declared shared between hosts (live migration leaves their disks in place). */
  sharedStorage: string[];
  stateDir: string;
  joinToken?: string;
  tls: TlsConfig;
  hostname: string;
  logLevel: LogLevel;
  resyncIntervalMs: number;
  journalCapacity: number;
  simulated: SimulatedConfig;
  /** Sampling, buffering and the /metrics endpoint (default: DEFAULT_METRICS_CONFIG, no endpoint). */
  metrics?: MetricsConfig;
}

export type ParsedCommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: AgentConfig };

/**
 * Reads the agent's settings from flags and environment variables (COCKPIT_AGENT_*). Every bad value is
 * collected into one ConfigError. `cwd` anchors relative paths.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  cwd: string = process.cwd(),
): ParsedCommandLine {
  const read = readSettings(argv, env);
  if (read.help) return { kind: 'help' };
  if (read.version) return { kind: 'version' };
  const v = new Validator(read.settings, read.problems);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));

  const controller = v.required('controller', parseControllerAddress);
  const driver = v.oneOf('driver', ['libvirt', 'simulated'] as const, 'libvirt');
  const libvirtUri = v.text('libvirtUri', 'qemu:///system');
  const uriProblem = libvirtUriProblem(libvirtUri);
  if (driver === 'libvirt' && uriProblem !== undefined) v.problem('libvirtUri', uriProblem);
  const hostname = v.text('hostname', osHostname());
  // A simulated host listens for other simulated hosts' migrations on a loopback port of its own (any
  // free one unless set), as a libvirt host is reached under its libvirtd's URI.
  const migrationUri =
    read.settings.migrationUri ??
    (driver === 'libvirt' ? migrationUriFor(libvirtUri) : `${SIM_MIGRATION_SCHEME}://127.0.0.1:0`);
  const simUri = driver === 'simulated' && migrationUri !== '' ? parseSimMigrationUri(migrationUri) : {};
  if (typeof simUri === 'string') v.problem('migrationUri', `simulated: ${simUri}`);
  const insecure = v.boolean('insecurePlaintext');
  const tls = tlsConfig(v, insecure, controller, abs);
  const config: AgentConfig = {
    controller: controller ?? { host: '', port: 0, target: '' },
    driver,
    libvirtUri,
    migrationUri,
    sharedStorage: sharedFolders(v),
    stateDir: abs(v.text('stateDir', '/var/lib/cockpit-agent')),
    joinToken: read.settings.joinToken,
    tls: tls ?? { mode: 'insecure-plaintext' },
    hostname,
    logLevel: v.oneOf('logLevel', LOG_LEVELS, 'info'),
    resyncIntervalMs: v.number('resyncInterval', 60, 1, 86_400) * 1000,
    journalCapacity: v.number('journalSize', 10_000, 100, 10_000_000, true),
    simulated: {
      vmCount: v.number('simVms', 5, 0, 100_000, true),
      seed: v.text('simSeed', '1'),
      changesPerMinute: v.number('simChangeRate', 2, 0, 600_000),
      crashes: v.boolean('simCrashes'),
      opDelayMs: v.number('simOpDelay', 250, 0, 600_000, true),
    },
    metrics: metricsConfig(v),
  };
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(config.hostname)) {
    v.problem('hostname', 'must be a host name (letters, digits, dots and dashes)');
  }
  if (v.problems.length > 0) throw new ConfigError(v.problems);
  return { kind: 'run', config };
}

/** --shared-storage: absolute folders, comma-separated, without trailing slashes. */
function sharedFolders(v: Validator): string[] {
  const raw = v.settings.sharedStorage;
  if (raw === undefined) return [];
  const folders = raw
    .split(',')
    .map((f) => f.trim().replace(/(.)\/+$/, '$1'))
    .filter((f) => f !== '');
  const relative = folders.filter((f) => !isAbsolute(f));
  if (relative.length > 0) v.problem('sharedStorage', `must be absolute folders: ${relative.join(', ')}`);
  return folders;
}

function metricsConfig(v: Validator): MetricsConfig {
  const listenText = v.settings.metricsListen;
  const listen = listenText === undefined ? DEFAULT_METRICS_LISTEN : parseListenAddress(listenText);
  if (typeof listen === 'string' && listen !== 'off') v.problem('metricsListen', listen);
  const token = v.settings.metricsToken;
  if (token !== undefined && !/^[\x21-\x7e]{16,}$/.test(token)) {
    v.problem('metricsToken', 'must be at least 16 printable characters without spaces');
  }
  if (token !== undefined && listen === 'off')
    v.problem('metricsToken', 'needs --metrics-listen (it is off)');
  return {
    intervalMs: v.number('metricsInterval', 10, 1, 3600) * 1000,
    bufferMaxAgeMs: v.number('metricsBufferAge', 1800, 0, 604_800) * 1000,
    bufferMaxSamples: v.number('metricsBufferMax', 100_000, 1_000, 100_000_000, true),
    listen: typeof listen === 'string' ? undefined : listen,
    listenIsDefault: listenText === undefined,
    token,
  };
}

function tlsConfig(
  v: Validator,
  insecure: boolean,
  controller: ControllerAddress | undefined,
  abs: (p: string) => string,
): TlsConfig | undefined {
  const caFile = v.settings.caFile;
  const caSha256 = v.settings.caSha256;
  const chosen = [caFile !== undefined, caSha256 !== undefined, insecure].filter(Boolean).length;
  if (chosen !== 1) {
    v.problem(
      'caFile',
      chosen === 0
        ? 'say how to trust the controller: --ca-file, --ca-sha256 or (loopback only) --insecure-plaintext'
        : 'choose one of --ca-file, --ca-sha256 and --insecure-plaintext',
    );
    return undefined;
  }
  if (insecure) {
    if (controller !== undefined && !isLoopbackHost(controller.host)) {
      v.problem(
        'insecurePlaintext',
        `refused for ${controller.host}: plaintext is only for a controller on loopback`,
      );
    }
    return { mode: 'insecure-plaintext' };
  }
  if (caSha256 !== undefined) {
    const hex = caSha256
      .replace(/^sha256:/i, '')
      .replace(/:/g, '')
      .toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      v.problem(
        'caSha256',
        'must be a SHA-256 fingerprint: 64 hex digits, colons and a sha256: prefix allowed',
      );
      return undefined;
    }
    return { mode: 'ca-sha256', fingerprint: hex };
  }
  const path = abs(caFile ?? '');
  try {
    const caPem = readFileSync(path, 'utf8');
    new X509Certificate(caPem);
    return { mode: 'ca-file', caFile: path, caPem };
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a readable PEM certificate';
    v.problem('caFile', `${path}: ${reason}`);
    return undefined;
  }
}

class Validator {
  constructor(
    readonly settings: RawSettings,
    readonly problems: ConfigProblem[],
  ) {}

  problem(name: OptionName, message: string): void {
    this.problems.push({ setting: settingName(name), message });
  }

  text(name: OptionName, fallback: string): string {
    return this.settings[name] ?? fallback;
  }

  required<T>(name: OptionName, parse: (text: string) => T | string): T | undefined {
    const raw = this.settings[name];
    if (raw === undefined) {
      this.problem(name, 'required');
      return undefined;
    }
    const parsed = parse(raw);
    if (typeof parsed === 'string') {
      this.problem(name, parsed);
      return undefined;
    }
    return parsed;
  }

  oneOf<const T extends readonly string[]>(name: OptionName, values: T, fallback: T[number]): T[number] {
    const raw = this.settings[name];
    if (raw === undefined) return fallback;
    if ((values as readonly string[]).includes(raw)) return raw as T[number];
    this.problem(name, `must be one of ${values.join(', ')}`);
    return fallback;
  }

  boolean(name: OptionName): boolean {
    const raw = this.settings[name]?.toLowerCase();
    if (raw === undefined || ['false', '0', 'no', 'off'].includes(raw)) return false;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    this.problem(name, 'must be true or false');
    return false;
  }

  number(name: OptionName, fallback: number, min: number, max: number, integer = false): number {
    const raw = this.settings[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const pattern = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
    if (!pattern.test(raw) || value < min || value > max) {
      this.problem(name, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }
}
