import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { TokenResponse } from '../../src/auth/auth-schema.ts';
import type { AuthOptions } from '../../src/auth/auth-service.ts';
import { hashPassword } from '../../src/auth/passwords.ts';
import type { Role } from '../../src/auth/principal.ts';
import { ManualClock } from '../../src/clock.ts';
import type { Config } from '../../src/config/config.ts';
import { type RunningController, startController } from '../../src/controller.ts';
import type { Services } from '../../src/create-services.ts';
import type { Sql } from '../../src/database/sql.ts';
import type { AppEnv } from '../../src/http/app-env.ts';
import { createLogger } from '../../src/log.ts';
import { insertUser } from '../../src/users/user-queries.ts';
import { createEmbeddedTestDatabase, createTestDatabase, type TestDatabase } from './test-database.ts';

export const TEST_ADMIN_PASSWORD = 'test-admin-password-0123';

export interface TestResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: T;
  text: string;
}

export interface RequestOptions {
  /** Sent as JSON (Content-Type: application/json) unless `rawBody` is given. */
  body?: unknown;
  /** Sent as is; set Content-Type yourself in `headers`. */
  rawBody?: string | Uint8Array;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

export interface TestApp {
  app: OpenAPIHono<AppEnv>;
  services: Services;
  sql: Sql;
  clock: ManualClock;
  config: Config;
  db: TestDatabase;
  /** The app served on 127.0.0.1: requests go over real HTTP. */
  url: string;
  /** Where /metrics answers (undefined with COCKPIT_METRICS_LISTEN=off). */
  metricsUrl: string | undefined;
  /** The agents' gRPC service: `127.0.0.1:port`, and the CA agents trust (null when plaintext). */
  grpc: { address: string; caPem: string | null; caFingerprint: string | null };
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies by shape; `any` keeps them short.
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  /** Logs in through the API; throws unless it answers 200. */
  login(username: string, password: string): Promise<TokenResponse>;
  /** Creates a user with the role (directly in the database) and logs in as them. */
  userWithRole(role: Role): Promise<{ username: string; password: string; tokens: TokenResponse }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** `server` (default): a fresh database on the test PostgreSQL; `embedded`: PGlite in a temporary folder. */
  database?: 'server' | 'embedded';
  /** Extra COCKPIT_* variables, on top of a random HS256 secret and a temporary data folder. */
  env?: Record<string, string>;
  /** Default: a ManualClock at the current time (tests move it); RealTimeClock follows the wall clock. */
  clock?: ManualClock;
  /** Passed to the auth service beside the defaults (e.g. a throttle policy). */
  authOptions?: AuthOptions;
  /** The migration coordinator's lease (default 15 s): takeover tests shorten it. */
  migrationLeaseMs?: number;
}

/**
 * The whole controller, built by startController (the production composition root) against its own
 * database, with a ManualClock and the first admin (password TEST_ADMIN_PASSWORD), served on a
 * loopback port.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-test-app-'));
  const db =
    options.database === 'embedded' ? await createEmbeddedTestDatabase() : await createTestDatabase();
  let controller: RunningController | undefined;
  try {
    const logs: Array<Record<string, unknown>> = [];
    const log = createLogger('debug', {
      write: (line: string) => {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
    const clock = options.clock ?? new ManualClock(Date.now());
    const sql = db.sql;
    controller = await startController({
      env: {
        COCKPIT_DATA_DIR: dataDir,
        COCKPIT_HTTP_PORT: '0',
        COCKPIT_GRPC_PORT: '0',
        COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
        COCKPIT_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
        COCKPIT_LOG_LEVEL: 'debug',
        ...options.env,
      },
      cwd: dataDir,
      clock,
      log,
      sql,
      print: () => undefined,
      notifier: options.database === 'embedded' ? 'in-process' : 'postgres',
      migrationLeaseMs: options.migrationLeaseMs,
      ...options.authOptions,
    });
    const { app, services, config, url } = controller;
    const grpc = {
      address: controller.grpc.address,
      caPem: services.grpcTls?.caPem ?? null,
      caFingerprint: services.grpcTls?.caFingerprint ?? null,
    };

    // biome-ignore lint/suspicious/noExplicitAny: see TestApp.request.
    const request = async <T = any>(method: string, path: string, opts: RequestOptions = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      let body: string | Uint8Array | undefined = opts.rawBody;
      if (body === undefined && opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      // Redirects are answers to check, not to follow.
      const res = await fetch(`${url}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: the text is the body.
      }
      return { status: res.status, headers: res.headers, body: parsed as T, text };
    };

    const login = async (username: string, password: string) => {
      const res = await request<TokenResponse>('POST', '/api/v1/auth/login', {
        body: { username, password },
      });
      if (res.status !== 200) throw new Error(`login as ${username} answered ${res.status}: ${res.text}`);
      return res.body;
    };

    let users = 0;
    const userWithRole = async (role: Role) => {
      users += 1;
      const username = `${role}${users}`;
      const password = `${role}-password-${users}-${randomBytes(4).toString('hex')}`;
      await insertUser(sql, { username, passwordHash: await hashPassword(password), role, now: clock.now() });
      return { username, password, tokens: await login(username, password) };
    };

    const running = controller;
    return {
      app,
      services,
      sql,
      clock,
      config,
      db,
      url,
      metricsUrl: controller.metricsUrl,
      grpc,
      logs,
      request,
      login,
      userWithRole,
      close: async () => {
        await running.close();
        await db.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await controller?.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
