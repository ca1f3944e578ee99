import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type AuthService, createAuthService, type TokenResponse } from '../../src/auth/auth-service.ts';
import type { Role } from '../../src/auth/principal.ts';
import { ManualClock } from '../../src/clock.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import type { AppEnv, Services } from '../../src/http/app-env.ts';
import { createApp } from '../../src/http/create-app.ts';
import { type RunningServer, serveHttp } from '../../src/http/serve.ts';
import { createLogger } from '../../src/log.ts';
import type { Sql } from '../../src/store/sql.ts';
import { ensureAdminUser } from '../../src/users/ensure-admin-user.ts';
import { createUser } from '../../src/users/user-store.ts';
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
  auth: AuthService;
  sql: Sql;
  clock: ManualClock;
  config: Config;
  db: TestDatabase;
  /** The app served on 127.0.0.1: requests go over real HTTP. */
  url: string;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies by shape; `any` keeps them short.
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  /** Logs in through the API; throws unless it answers 200. */
  login(username: string, password: string): Promise<TokenResponse>;
  /** Creates a user with the role (directly in the store) and logs in as them. */
  userWithRole(role: Role): Promise<{ username: string; password: string; tokens: TokenResponse }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** `server` (default): a fresh database on the test PostgreSQL; `embedded`: PGlite in a temporary folder. */
  database?: 'server' | 'embedded';
  /** Extra COCKPIT_* variables, on top of a random HS256 secret and a temporary data folder. */
  env?: Record<string, string>;
  clock?: ManualClock;
  /** Passed to createAuthService beside the defaults (e.g. a throttle policy). */
  authOptions?: Partial<Parameters<typeof createAuthService>[0]>;
}

/**
 * The whole controller app against its own database, with a ManualClock and the first admin
 * (password TEST_ADMIN_PASSWORD), served on a loopback port.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-test-app-'));
  const db =
    options.database === 'embedded' ? await createEmbeddedTestDatabase() : await createTestDatabase();
  let server: RunningServer | undefined;
  try {
    const config = loadConfig(
      {
        COCKPIT_DATA_DIR: dataDir,
        COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
        COCKPIT_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
        COCKPIT_LOG_LEVEL: 'debug',
        ...options.env,
      },
      dataDir,
    );
    const logs: Array<Record<string, unknown>> = [];
    const log = createLogger(config.logLevel, {
      write: (line: string) => {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
    const clock = options.clock ?? new ManualClock(Date.now());
    const sql = db.sql;
    const auth = createAuthService({ sql, clock, config, log, ...options.authOptions });
    await ensureAdminUser({ sql, config, log, clock, print: () => undefined });
    const services: Services = { config, sql, clock, log, auth };
    const app = createApp(services);
    server = await serveHttp(app.fetch, { port: 0, host: '127.0.0.1' });
    const url = server.url;

    // biome-ignore lint/suspicious/noExplicitAny: see TestApp.request.
    const request = async <T = any>(method: string, path: string, opts: RequestOptions = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      let body: string | Uint8Array | undefined = opts.rawBody;
      if (body === undefined && opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, body });
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
      await createUser(sql, {
        username,
        passwordHash: await auth.hashPassword(password),
        role,
        now: clock.now(),
      });
      return { username, password, tokens: await login(username, password) };
    };

    const running = server;
    return {
      app,
      services,
      auth,
      sql,
      clock,
      config,
      db,
      url,
      logs,
      request,
      login,
      userWithRole,
      close: async () => {
        await running.close(1000);
        await db.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.close(0);
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
