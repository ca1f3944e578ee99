import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';
import { ConfigError, isConfigError, loadConfig } from './config.ts';

function problemsOf(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env, '/srv');
  } catch (err) {
    if (!isConfigError(err)) throw err;
    return Object.fromEntries(err.problems.map((p) => [p.variable, p.message]));
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working defaults for a zero-setup start', () => {
    const config = loadConfig({}, '/srv');
    expect(config).toEqual({
      dataDir: '/srv/.cockpit',
      http: { port: 8080, host: '127.0.0.1', bodyLimitBytes: 1048576, trustedProxies: [] },
      database: { url: undefined, statementTimeoutMs: 15_000 },
      adminPassword: undefined,
      logLevel: 'info',
      auth: {
        jwtAlgorithm: 'HS256',
        jwtSecret: undefined,
        jwtPrivateKeyFile: undefined,
        jwtPublicKeyFile: undefined,
        issuer: 'cockpit',
        audience: 'cockpit-api',
        accessTokenTtlSeconds: 3600,
        refreshTokenTtlSeconds: 30 * 24 * 3600,
      },
      grpc: { port: 9443, host: '127.0.0.1', advertiseAddress: undefined, tls: { mode: 'generated' } },
      agents: { heartbeatIntervalMs: 1000, heartbeatDeadlineMs: 5000 },
      retentionDays: 90,
      shutdownGraceMs: 10_000,
      metrics: {
        intervalMs: 10_000,
        retention: { raw: 24 * 3600_000, '1m': 7 * 24 * 3600_000, '1h': 90 * 24 * 3600_000 },
        listen: 'api',
        token: undefined,
      },
      demoAgents: 0,
      heapGrowthPercent: 50,
    });
  });

  it('reads COCKPIT_HEAP_GROWTH_PERCENT: 50 by default, 0 leaves the heap to V8', () => {
    expect(loadConfig({}, '/srv').heapGrowthPercent).toBe(50);
    expect(loadConfig({ COCKPIT_HEAP_GROWTH_PERCENT: '0' }, '/srv').heapGrowthPercent).toBe(0);
    expect(loadConfig({ COCKPIT_HEAP_GROWTH_PERCENT: '100' }, '/srv').heapGrowthPercent).toBe(100);
    expect(problemsOf({ COCKPIT_HEAP_GROWTH_PERCENT: '-5' })).toEqual({
      COCKPIT_HEAP_GROWTH_PERCENT: 'must be a whole number',
    });
  });

  it('reads COCKPIT_DEMO_AGENTS: how many simulated agents the controller starts beside itself', () => {
    expect(loadConfig({ COCKPIT_DEMO_AGENTS: '2' }, '/srv').demoAgents).toBe(2);
    expect(loadConfig({ COCKPIT_DEMO_AGENTS: '' }, '/srv').demoAgents).toBe(0);
    expect(problemsOf({ COCKPIT_DEMO_AGENTS: 'two' })).toEqual({
      COCKPIT_DEMO_AGENTS: 'must be a whole number',
    });
    expect(problemsOf({ COCKPIT_DEMO_AGENTS: '11' })).toEqual({ COCKPIT_DEMO_AGENTS: 'must be at most 10' });
  });

  it('reads the metrics variables: period, retention per tier, where /metrics listens and its token', () => {
    const config = loadConfig(
      {
        COCKPIT_METRICS_INTERVAL_MS: '5000',
        COCKPIT_METRICS_RAW_RETENTION_HOURS: '48',
        COCKPIT_METRICS_1M_RETENTION_DAYS: '14',
        COCKPIT_METRICS_1H_RETENTION_DAYS: '365',
        COCKPIT_METRICS_LISTEN: '[::1]:9481',
        COCKPIT_METRICS_TOKEN: 'a-static-token-0123456789',
      },
      '/srv',
    );
    expect(config.metrics).toEqual({
      intervalMs: 5000,
      retention: { raw: 48 * 3600_000, '1m': 14 * 24 * 3600_000, '1h': 365 * 24 * 3600_000 },
      listen: { host: '::1', port: 9481 },
      token: 'a-static-token-0123456789',
    });
    expect(loadConfig({ COCKPIT_METRICS_LISTEN: 'off' }, '/srv').metrics.listen).toBe('off');
    expect(loadConfig({ COCKPIT_METRICS_LISTEN: ':9481' }, '/srv').metrics.listen).toEqual({
      host: '::',
      port: 9481,
    });
    let problems: unknown;
    try {
      loadConfig(
        {
          COCKPIT_METRICS_INTERVAL_MS: '10',
          COCKPIT_METRICS_RAW_RETENTION_HOURS: '0',
          COCKPIT_METRICS_LISTEN: 'everywhere',
          COCKPIT_METRICS_TOKEN: 'short',
        },
        '/srv',
      );
    } catch (err) {
      problems = (err as { problems: unknown }).problems;
    }
    expect(problems).toEqual([
      { variable: 'COCKPIT_METRICS_INTERVAL_MS', message: 'must be at least 1000' },
      { variable: 'COCKPIT_METRICS_RAW_RETENTION_HOURS', message: 'must be at least 1' },
      {
        variable: 'COCKPIT_METRICS_LISTEN',
        message:
          'must be host:port (e.g. 127.0.0.1:9481, [::1]:9481, :9481 for every address), or api (the default: beside the REST API)',
      },
      { variable: 'COCKPIT_METRICS_TOKEN', message: 'must be at least 16 characters (a random token)' },
    ]);
  });

  it('reads the gRPC listener and heartbeat variables', () => {
    const dir = tempDir('cockpit-config-grpc-');
    writeFileSync(join(dir, 'chain.pem'), '');
    writeFileSync(join(dir, 'key.pem'), '');
    const config = loadConfig(
      {
        COCKPIT_GRPC_PORT: '9090',
        COCKPIT_GRPC_HOST: '0.0.0.0',
        COCKPIT_GRPC_ADVERTISE_ADDRESS: 'ctl.example:443',
        COCKPIT_GRPC_TLS_CERT_FILE: 'chain.pem',
        COCKPIT_GRPC_TLS_KEY_FILE: 'key.pem',
        COCKPIT_HEARTBEAT_INTERVAL_MS: '500',
        COCKPIT_HEARTBEAT_DEADLINE_MS: '2000',
      },
      dir,
    );
    expect(config.grpc).toEqual({
      port: 9090,
      host: '0.0.0.0',
      advertiseAddress: 'ctl.example:443',
      tls: {
        mode: 'files',
        certFile: join(dir, 'chain.pem'),
        keyFile: join(dir, 'key.pem'),
        caFile: undefined,
      },
    });
    expect(config.agents).toEqual({ heartbeatIntervalMs: 500, heartbeatDeadlineMs: 2000 });
    expect(loadConfig({ COCKPIT_GRPC_INSECURE_PLAINTEXT: 'true' }, dir).grpc.tls).toEqual({
      mode: 'plaintext',
    });
  });

  it('refuses plaintext gRPC off loopback, half a TLS pair, and a deadline under two intervals', () => {
    expect(
      problemsOf({
        COCKPIT_GRPC_INSECURE_PLAINTEXT: 'true',
        COCKPIT_GRPC_HOST: '0.0.0.0',
        COCKPIT_HEARTBEAT_INTERVAL_MS: '1000',
        COCKPIT_HEARTBEAT_DEADLINE_MS: '1500',
        COCKPIT_GRPC_ADVERTISE_ADDRESS: 'no-port',
      }),
    ).toEqual({
      COCKPIT_GRPC_INSECURE_PLAINTEXT:
        'plaintext is for loopback development only; COCKPIT_GRPC_HOST is 0.0.0.0',
      COCKPIT_HEARTBEAT_DEADLINE_MS:
        'must be at least twice COCKPIT_HEARTBEAT_INTERVAL_MS (1000), so one late heartbeat is no false alarm',
      COCKPIT_GRPC_ADVERTISE_ADDRESS: 'must be host:port ([v6]:port for IPv6)',
    });
    expect(problemsOf({ COCKPIT_GRPC_TLS_CERT_FILE: '/srv/chain.pem' })).toMatchObject({
      COCKPIT_GRPC_TLS_KEY_FILE: 'COCKPIT_GRPC_TLS_CERT_FILE and COCKPIT_GRPC_TLS_KEY_FILE go together',
    });
    expect(problemsOf({ COCKPIT_GRPC_INSECURE_PLAINTEXT: 'maybe' })).toEqual({
      COCKPIT_GRPC_INSECURE_PLAINTEXT: 'must be true or false',
    });
  });

  it('reads every variable', () => {
    const secret = 'x'.repeat(40);
    const config = loadConfig(
      {
        COCKPIT_HTTP_PORT: '9090',
        COCKPIT_HTTP_HOST: '0.0.0.0',
        COCKPIT_DATA_DIR: '/var/lib/cockpit',
        COCKPIT_DATABASE_URL: 'postgres://u@db:5432/cockpit',
        COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS: '5000',
        COCKPIT_ADMIN_PASSWORD: 'correct horse battery',
        COCKPIT_LOG_LEVEL: 'debug',
        COCKPIT_BODY_LIMIT_BYTES: '2048',
        COCKPIT_TRUSTED_PROXIES: '10.0.0.1, 10.1.0.0/16',
        COCKPIT_JWT_SECRET: secret,
        COCKPIT_JWT_ISSUER: 'iss',
        COCKPIT_JWT_AUDIENCE: 'aud',
        COCKPIT_ACCESS_TOKEN_TTL: '600',
        COCKPIT_REFRESH_TOKEN_TTL: '86400',
      },
      '/srv',
    );
    expect(config.http).toEqual({
      port: 9090,
      host: '0.0.0.0',
      bodyLimitBytes: 2048,
      trustedProxies: ['10.0.0.1', '10.1.0.0/16'],
    });
    expect(config.dataDir).toBe('/var/lib/cockpit');
    expect(config.database).toEqual({ url: 'postgres://u@db:5432/cockpit', statementTimeoutMs: 5000 });
    expect(config.adminPassword).toBe('correct horse battery');
    expect(config.logLevel).toBe('debug');
    expect(config.auth).toMatchObject({
      jwtAlgorithm: 'HS256',
      jwtSecret: secret,
      issuer: 'iss',
      audience: 'aud',
      accessTokenTtlSeconds: 600,
      refreshTokenTtlSeconds: 86400,
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ COCKPIT_DATABASE_URL: '', COCKPIT_HTTP_PORT: ' ' }, '/srv')).toMatchObject({
      database: { url: undefined },
      http: { port: 8080 },
    });
  });

  it('names every bad variable in one error', () => {
    const problems = problemsOf({
      COCKPIT_HTTP_PORT: 'eighty',
      COCKPIT_LOG_LEVEL: 'loud',
      COCKPIT_BODY_LIMIT_BYTES: '0',
      COCKPIT_DATABASE_URL: 'mysql://db',
      COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS: '15s',
      COCKPIT_JWT_SECRET: 'short',
      COCKPIT_ACCESS_TOKEN_TTL: '-5',
      COCKPIT_ADMIN_PASSWORD: 'abc',
      COCKPIT_TRUSTED_PROXIES: '10.0.0.1, proxy.example',
    });
    expect(Object.keys(problems).sort()).toEqual([
      'COCKPIT_ACCESS_TOKEN_TTL',
      'COCKPIT_ADMIN_PASSWORD',
      'COCKPIT_BODY_LIMIT_BYTES',
      'COCKPIT_DATABASE_STATEMENT_TIMEOUT_MS',
      'COCKPIT_DATABASE_URL',
      'COCKPIT_HTTP_PORT',
      'COCKPIT_JWT_SECRET',
      'COCKPIT_LOG_LEVEL',
      'COCKPIT_TRUSTED_PROXIES',
    ]);
    expect(problems.COCKPIT_JWT_SECRET).toMatch(/32/);
    expect(problems.COCKPIT_TRUSTED_PROXIES).toBe('not an IP address or CIDR range: proxy.example');
  });

  it("holds COCKPIT_ADMIN_PASSWORD to the users' password policy, so a short one fails before anything starts", () => {
    const short = 'x'.repeat(PASSWORD_MIN_LENGTH - 1);
    expect(problemsOf({ COCKPIT_ADMIN_PASSWORD: short })).toEqual({
      COCKPIT_ADMIN_PASSWORD: `must be at least ${PASSWORD_MIN_LENGTH} characters`,
    });
    expect(
      loadConfig({ COCKPIT_ADMIN_PASSWORD: 'x'.repeat(PASSWORD_MIN_LENGTH) }).adminPassword,
    ).toHaveLength(PASSWORD_MIN_LENGTH);
  });

  it('never echoes a rejected secret', () => {
    try {
      loadConfig({ COCKPIT_JWT_SECRET: 'hunter2-is-weak' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect(String(err)).not.toContain('hunter2');
    }
  });

  it('rejects a port out of range', () => {
    expect(problemsOf({ COCKPIT_HTTP_PORT: '70000' })).toHaveProperty('COCKPIT_HTTP_PORT');
  });

  describe('ES256', () => {
    const dir = tempDir('cockpit-config-');
    const priv = join(dir, 'private.pem');
    const pub = join(dir, 'public.pem');
    writeFileSync(priv, 'pem');
    writeFileSync(pub, 'pem');

    it('is chosen by the key files', () => {
      const config = loadConfig({ COCKPIT_JWT_PRIVATE_KEY_FILE: priv, COCKPIT_JWT_PUBLIC_KEY_FILE: pub });
      expect(config.auth).toMatchObject({
        jwtAlgorithm: 'ES256',
        jwtPrivateKeyFile: priv,
        jwtPublicKeyFile: pub,
      });
    });

    it('reports missing key files, a stray secret and a mismatched algorithm together', () => {
      expect(
        problemsOf({
          COCKPIT_JWT_ALGORITHM: 'ES256',
          COCKPIT_JWT_SECRET: 'y'.repeat(40),
          COCKPIT_JWT_PUBLIC_KEY_FILE: join(dir, 'missing.pem'),
          COCKPIT_HTTP_PORT: 'x',
        }),
      ).toEqual({
        COCKPIT_HTTP_PORT: expect.any(String),
        COCKPIT_JWT_SECRET: expect.stringMatching(/ES256/),
        COCKPIT_JWT_PRIVATE_KEY_FILE: expect.stringMatching(/required/),
        COCKPIT_JWT_PUBLIC_KEY_FILE: expect.stringMatching(/no such file/),
      });
      expect(
        problemsOf({ COCKPIT_JWT_ALGORITHM: 'HS256', COCKPIT_JWT_PRIVATE_KEY_FILE: priv }),
      ).toHaveProperty('COCKPIT_JWT_ALGORITHM');
      expect(problemsOf({ COCKPIT_JWT_ALGORITHM: 'RS256' })).toHaveProperty('COCKPIT_JWT_ALGORITHM');
    });
  });
});
