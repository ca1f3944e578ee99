import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import { MIN_SECRET_BYTES } from '../auth/signing-keys.ts';
import { CodedError } from '../coded-error.ts';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from '../database/connect.ts';
import { parseTrustedProxies } from '../http/trusted-proxies.ts';
import { parseListenAddress } from './listen-address.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type JwtAlgorithm = 'HS256' | 'ES256';

export interface AuthConfig {
  jwtAlgorithm: JwtAlgorithm;
  /** HS256 shared secret (COCKPIT_JWT_SECRET). Absent: the auth service generates one and keeps it in the data folder. */
  jwtSecret?: string;
  /** ES256 private key, PEM (COCKPIT_JWT_PRIVATE_KEY_FILE). */
  jwtPrivateKeyFile?: string;
  /** ES256 public key, PEM (COCKPIT_JWT_PUBLIC_KEY_FILE). */
  jwtPublicKeyFile?: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface Config {
  /** Absolute path of the data folder (embedded database, generated keys). */
  dataDir: string;
  http: {
    port: number;
    host: string;
    bodyLimitBytes: number;
    /** Proxies whose X-Forwarded-For is believed (COCKPIT_TRUSTED_PROXIES): IPs or CIDR ranges. */
    trustedProxies: string[];
  };
  database: {
    /** A PostgreSQL URL; absent means the embedded PGlite under `<dataDir>/pgdata`. */
    url?: string;
    /** The longest one statement may run, in milliseconds; 0: no limit. */
    statementTimeoutMs: number;
  };
  /** Password for the `admin` user created on first start; absent means one is generated and printed once. */
  adminPassword?: string;
  logLevel: LogLevel;
  auth: AuthConfig;
  grpc: GrpcConfig;
  agents: AgentsConfig;
  /** Audit entries, dead refresh tokens and change log rows older than this many days are deleted (COCKPIT_RETENTION_DAYS). */
  retentionDays: number;
  metrics: MetricsConfig;
  /**
   * How long requests in flight may finish after SIGTERM/SIGINT (COCKPIT_SHUTDOWN_GRACE_MS); then
   * connections are closed, and a few seconds later the process exits whatever is still running.
   */
  shutdownGraceMs: number;
  /**
   * Simulated agents the controller starts beside itself for a demo (COCKPIT_DEMO_AGENTS; `pnpm start`
   * on the embedded database sets 2): hosts vapor-node-01.corp.awan.io and on. 0 for real deployments.
   */
  demoAgents: number;
  /**
   * How far the JS heap may grow past its live data before a full collection, in percent
   * (COCKPIT_HEAP_GROWTH_PERCENT; src/heap-growth.ts); 0 leaves it to V8.
   */
  heapGrowthPercent: number;
}

/** The agents' gRPC listener. */
export interface GrpcConfig {
  port: number;
  host: string;
  /** `host:port` agents dial (the join-token response's command line); default from host and port. */
  advertiseAddress?: string;
  tls: GrpcTlsConfig;
}

export type GrpcTlsConfig =
  /** The controller's own CA and server certificate, created in the data folder on the first start. */
  | { mode: 'generated' }
  /** The operator's certificate chain and key; `caFile`: the CA agents pin when the chain lacks it. */
  | { mode: 'files'; certFile: string; keyFile: string; caFile?: string }
  /** No TLS: only on a loopback address, for development. */
  | { mode: 'plaintext' };

export interface AgentsConfig {
  /** How often each side sends a heartbeat when it has nothing else to send. */
  heartbeatIntervalMs: number;
  /** Silence after which a host is disconnected (and the agent gives up on the controller). */
  heartbeatDeadlineMs: number;
}

/** Performance samples (issue 10): how often agents sample, how long each tier is kept, and /metrics. */
export interface MetricsConfig {
  /** The sampling period agents are told (Welcome.metrics_interval_ms), ms (COCKPIT_METRICS_INTERVAL_MS). */
  intervalMs: number;
  /** How long each tier is kept, ms (COCKPIT_METRICS_RAW_RETENTION_HOURS, _1M_RETENTION_DAYS, _1H_RETENTION_DAYS). */
  retention: { raw: number; '1m': number; '1h': number };
  /**
   * Where the Prometheus /metrics is served (COCKPIT_METRICS_LISTEN): `api` on the REST API's listener
   * (the default), its own `host:port`, or `off`.
   */
  listen: 'api' | 'off' | { host: string; port: number };
  /** A static bearer token /metrics requires (COCKPIT_METRICS_TOKEN); undefined: none, like other exporters. */
  token?: string;
}

/** A configuration that cannot start: every bad variable, each with what is wrong with it. */
export class ConfigError extends CodedError<'invalid_config'> {
  constructor(readonly problems: ReadonlyArray<{ variable: string; message: string }>) {
    super(
      'invalid_config',
      `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

export const isConfigError = (err: unknown): err is ConfigError => err instanceof ConfigError;

const DAY = 24 * 60 * 60;
const HOUR_MS = 60 * 60 * 1000;

// Empty strings count as unset, so `COCKPIT_DATABASE_URL= pnpm start` means "embedded".
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const integer = (fallback: number, min: number, max: number) =>
  optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
      .optional()
      .transform((v) => v ?? fallback),
  );

const envSchema = z.object({
  COCKPIT_HTTP_PORT: integer(8080, 0, 65535),
  COCKPIT_HTTP_HOST: optionalText.transform((v) => v ?? '127.0.0.1'),
  COCKPIT_DATA_DIR: optionalText.transform((v) => v ?? './.cockpit'),
  COCKPIT_DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS: integer(DEFAULT_STATEMENT_TIMEOUT_MS, 0, 60 * 60 * 1000),
  COCKPIT_ADMIN_PASSWORD: optionalText.pipe(
    z
      .string()
      // The users' password policy: a shorter one would pass here and only fail at the first start.
      .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
      .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
      .optional(),
  ),
  COCKPIT_LOG_LEVEL: optionalText.pipe(
    z
      .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
      .optional()
      .transform((v) => v ?? 'info'),
  ),
  COCKPIT_BODY_LIMIT_BYTES: integer(1024 * 1024, 1, 1024 * 1024 * 1024),
  COCKPIT_TRUSTED_PROXIES: optionalText.transform((v, ctx) => {
    const parsed = parseTrustedProxies(v ?? '');
    if (parsed.invalid.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `not an IP address or CIDR range: ${parsed.invalid.join(', ')}`,
      });
    }
    return parsed.entries;
  }),
  COCKPIT_JWT_ALGORITHM: optionalText.pipe(
    z.enum(['HS256', 'ES256'], { error: 'must be HS256 or ES256' }).optional(),
  ),
  COCKPIT_JWT_SECRET: optionalText.pipe(
    z
      .string()
      // The signing key's own rule (bytes, as it checks them), reported here with every other bad value.
      .refine(
        (secret) => Buffer.byteLength(secret, 'utf8') >= MIN_SECRET_BYTES,
        `too short: use at least ${MIN_SECRET_BYTES} bytes of random text`,
      )
      .optional(),
  ),
  COCKPIT_JWT_PRIVATE_KEY_FILE: optionalText,
  COCKPIT_JWT_PUBLIC_KEY_FILE: optionalText,
  COCKPIT_JWT_ISSUER: optionalText.transform((v) => v ?? 'cockpit'),
  COCKPIT_JWT_AUDIENCE: optionalText.transform((v) => v ?? 'cockpit-api'),
  COCKPIT_ACCESS_TOKEN_TTL: integer(3600, 1, 7 * DAY),
  COCKPIT_REFRESH_TOKEN_TTL: integer(30 * DAY, 60, 365 * DAY),
  COCKPIT_GRPC_PORT: integer(9443, 0, 65535),
  COCKPIT_GRPC_HOST: optionalText.transform((v) => v ?? '127.0.0.1'),
  COCKPIT_GRPC_ADVERTISE_ADDRESS: optionalText.pipe(
    z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'must be host:port ([v6]:port for IPv6)')
      .optional(),
  ),
  COCKPIT_GRPC_TLS_CERT_FILE: optionalText,
  COCKPIT_GRPC_TLS_KEY_FILE: optionalText,
  COCKPIT_GRPC_TLS_CA_FILE: optionalText,
  COCKPIT_GRPC_INSECURE_PLAINTEXT: optionalText.pipe(
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .optional()
      .transform((v) => v === 'true' || v === '1'),
  ),
  COCKPIT_HEARTBEAT_INTERVAL_MS: integer(1000, 100, 60_000),
  COCKPIT_HEARTBEAT_DEADLINE_MS: integer(5000, 300, 300_000),
  COCKPIT_RETENTION_DAYS: integer(90, 1, 36_500),
  COCKPIT_SHUTDOWN_GRACE_MS: integer(10_000, 0, 300_000),
  COCKPIT_METRICS_INTERVAL_MS: integer(10_000, 1_000, 3_600_000),
  COCKPIT_METRICS_RAW_RETENTION_HOURS: integer(24, 1, 24 * 31),
  COCKPIT_METRICS_1M_RETENTION_DAYS: integer(7, 1, 366),
  COCKPIT_METRICS_1H_RETENTION_DAYS: integer(90, 1, 3660),
  COCKPIT_METRICS_LISTEN: optionalText.transform((v, ctx) => {
    if (v === undefined || v.trim().toLowerCase() === 'api') return 'api' as const;
    const parsed = parseListenAddress(v);
    if (typeof parsed === 'string' && parsed !== 'off') {
      ctx.addIssue({ code: 'custom', message: `${parsed}, or api (the default: beside the REST API)` });
      return 'off' as const;
    }
    return parsed as 'off' | { host: string; port: number };
  }),
  COCKPIT_METRICS_TOKEN: optionalText.pipe(
    z.string().min(16, 'must be at least 16 characters (a random token)').optional(),
  ),
  COCKPIT_DEMO_AGENTS: integer(0, 0, 10),
  COCKPIT_HEAP_GROWTH_PERCENT: integer(50, 0, 1000),
});

/**
 * Reads the controller's configuration from environment variables. Every bad value is collected
 * and reported at once in a ConfigError, so one failed start tells the operator everything to fix.
 * `cwd` anchors a relative COCKPIT_DATA_DIR.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd: string = process.cwd()): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(env)'),
        message: issue.message,
      }));
  problems.push(...crossFieldProblems(env, cwd));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);

  const e = parsed.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  return {
    dataDir: abs(e.COCKPIT_DATA_DIR),
    http: {
      port: e.COCKPIT_HTTP_PORT,
      host: e.COCKPIT_HTTP_HOST,
      bodyLimitBytes: e.COCKPIT_BODY_LIMIT_BYTES,
      trustedProxies: e.COCKPIT_TRUSTED_PROXIES,
    },
    database: { url: e.COCKPIT_DATABASE_URL, statementTimeoutMs: e.COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS },
    adminPassword: e.COCKPIT_ADMIN_PASSWORD,
    logLevel: e.COCKPIT_LOG_LEVEL,
    auth: {
      jwtAlgorithm: jwtAlgorithmOf(env),
      jwtSecret: e.COCKPIT_JWT_SECRET,
      jwtPrivateKeyFile: e.COCKPIT_JWT_PRIVATE_KEY_FILE && abs(e.COCKPIT_JWT_PRIVATE_KEY_FILE),
      jwtPublicKeyFile: e.COCKPIT_JWT_PUBLIC_KEY_FILE && abs(e.COCKPIT_JWT_PUBLIC_KEY_FILE),
      issuer: e.COCKPIT_JWT_ISSUER,
      audience: e.COCKPIT_JWT_AUDIENCE,
      accessTokenTtlSeconds: e.COCKPIT_ACCESS_TOKEN_TTL,
      refreshTokenTtlSeconds: e.COCKPIT_REFRESH_TOKEN_TTL,
    },
    grpc: {
      port: e.COCKPIT_GRPC_PORT,
      host: e.COCKPIT_GRPC_HOST,
      advertiseAddress: e.COCKPIT_GRPC_ADVERTISE_ADDRESS,
      tls: e.COCKPIT_GRPC_INSECURE_PLAINTEXT
        ? { mode: 'plaintext' }
        : e.COCKPIT_GRPC_TLS_CERT_FILE !== undefined && e.COCKPIT_GRPC_TLS_KEY_FILE !== undefined
          ? {
              mode: 'files',
              certFile: abs(e.COCKPIT_GRPC_TLS_CERT_FILE),
              keyFile: abs(e.COCKPIT_GRPC_TLS_KEY_FILE),
              caFile: e.COCKPIT_GRPC_TLS_CA_FILE && abs(e.COCKPIT_GRPC_TLS_CA_FILE),
            }
          : { mode: 'generated' },
    },
    agents: {
      heartbeatIntervalMs: e.COCKPIT_HEARTBEAT_INTERVAL_MS,
      heartbeatDeadlineMs: e.COCKPIT_HEARTBEAT_DEADLINE_MS,
    },
    retentionDays: e.COCKPIT_RETENTION_DAYS,
    shutdownGraceMs: e.COCKPIT_SHUTDOWN_GRACE_MS,
    metrics: {
      intervalMs: e.COCKPIT_METRICS_INTERVAL_MS,
      retention: {
        raw: e.COCKPIT_METRICS_RAW_RETENTION_HOURS * HOUR_MS,
        '1m': e.COCKPIT_METRICS_1M_RETENTION_DAYS * DAY * 1000,
        '1h': e.COCKPIT_METRICS_1H_RETENTION_DAYS * DAY * 1000,
      },
      listen: e.COCKPIT_METRICS_LISTEN,
      token: e.COCKPIT_METRICS_TOKEN,
    },
    demoAgents: e.COCKPIT_DEMO_AGENTS,
    heapGrowthPercent: e.COCKPIT_HEAP_GROWTH_PERCENT,
  };
}

const setting = (env: Record<string, string | undefined>, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
};

const hasKeyFiles = (env: Record<string, string | undefined>): boolean =>
  setting(env, 'COCKPIT_JWT_PRIVATE_KEY_FILE') !== undefined ||
  setting(env, 'COCKPIT_JWT_PUBLIC_KEY_FILE') !== undefined;

// The algorithm follows the key material when not named explicitly.
const jwtAlgorithmOf = (env: Record<string, string | undefined>): JwtAlgorithm => {
  const named = setting(env, 'COCKPIT_JWT_ALGORITHM');
  if (named === 'HS256' || named === 'ES256') return named;
  return hasKeyFiles(env) ? 'ES256' : 'HS256';
};

// Checked on the raw variables, independently of the per-variable parse, so that one start
// reports these together with every other bad value.
function crossFieldProblems(
  env: Record<string, string | undefined>,
  cwd: string,
): Array<{ variable: string; message: string }> {
  const problems: Array<{ variable: string; message: string }> = [];
  const algorithm = jwtAlgorithmOf(env);
  if (algorithm === 'HS256' && hasKeyFiles(env)) {
    problems.push({
      variable: 'COCKPIT_JWT_ALGORITHM',
      message: 'HS256 uses COCKPIT_JWT_SECRET; the key files are for ES256',
    });
  }
  if (algorithm === 'ES256') {
    if (setting(env, 'COCKPIT_JWT_SECRET') !== undefined) {
      problems.push({
        variable: 'COCKPIT_JWT_SECRET',
        message: 'not used with ES256; set the key files instead',
      });
    }
    if (
      setting(env, 'COCKPIT_JWT_PUBLIC_KEY_FILE') !== undefined &&
      setting(env, 'COCKPIT_JWT_PRIVATE_KEY_FILE') === undefined
    ) {
      problems.push({
        variable: 'COCKPIT_JWT_PRIVATE_KEY_FILE',
        message: 'required when COCKPIT_JWT_PUBLIC_KEY_FILE is set',
      });
    }
  }
  problems.push(...grpcProblems(env));
  for (const variable of [
    'COCKPIT_JWT_PRIVATE_KEY_FILE',
    'COCKPIT_JWT_PUBLIC_KEY_FILE',
    'COCKPIT_GRPC_TLS_CERT_FILE',
    'COCKPIT_GRPC_TLS_KEY_FILE',
    'COCKPIT_GRPC_TLS_CA_FILE',
  ]) {
    const file = setting(env, variable);
    if (file !== undefined && !existsSync(resolve(cwd, file))) {
      problems.push({ variable, message: `no such file: ${file}` });
    }
  }
  return problems;
}

const LOOPBACK_HOSTS = /^(127(\.\d{1,3}){3}|::1|localhost)$/;

// The gRPC listener's TLS choices and the heartbeat pair, checked on the raw variables like the JWT ones.
function grpcProblems(env: Record<string, string | undefined>): Array<{ variable: string; message: string }> {
  const problems: Array<{ variable: string; message: string }> = [];
  const plaintext = ['true', '1'].includes(setting(env, 'COCKPIT_GRPC_INSECURE_PLAINTEXT') ?? '');
  const cert = setting(env, 'COCKPIT_GRPC_TLS_CERT_FILE');
  const key = setting(env, 'COCKPIT_GRPC_TLS_KEY_FILE');
  const host = setting(env, 'COCKPIT_GRPC_HOST') ?? '127.0.0.1';
  if (plaintext && !LOOPBACK_HOSTS.test(host)) {
    problems.push({
      variable: 'COCKPIT_GRPC_INSECURE_PLAINTEXT',
      message: `plaintext is for loopback development only; COCKPIT_GRPC_HOST is ${host}`,
    });
  }
  if (plaintext && (cert !== undefined || key !== undefined)) {
    problems.push({
      variable: 'COCKPIT_GRPC_INSECURE_PLAINTEXT',
      message: 'choose TLS files or plaintext, not both',
    });
  }
  if ((cert === undefined) !== (key === undefined)) {
    problems.push({
      variable: cert === undefined ? 'COCKPIT_GRPC_TLS_CERT_FILE' : 'COCKPIT_GRPC_TLS_KEY_FILE',
      message: 'COCKPIT_GRPC_TLS_CERT_FILE and COCKPIT_GRPC_TLS_KEY_FILE go together',
    });
  }
  if (setting(env, 'COCKPIT_GRPC_TLS_CA_FILE') !== undefined && cert === undefined) {
    problems.push({
      variable: 'COCKPIT_GRPC_TLS_CA_FILE',
      message: 'only used with COCKPIT_GRPC_TLS_CERT_FILE and COCKPIT_GRPC_TLS_KEY_FILE',
    });
  }
  const interval = Number(setting(env, 'COCKPIT_HEARTBEAT_INTERVAL_MS') ?? 1000);
  const deadline = Number(setting(env, 'COCKPIT_HEARTBEAT_DEADLINE_MS') ?? 5000);
  if (Number.isFinite(interval) && Number.isFinite(deadline) && deadline < 2 * interval) {
    problems.push({
      variable: 'COCKPIT_HEARTBEAT_DEADLINE_MS',
      message: `must be at least twice COCKPIT_HEARTBEAT_INTERVAL_MS (${interval}), so one late heartbeat is no false alarm`,
    });
  }
  return problems;
}
