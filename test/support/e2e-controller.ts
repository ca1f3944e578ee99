import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createLogger, type RunningController, startController } from '@cockpit/controller';
import type { E2eDatabase } from './e2e-database.ts';

export const ADMIN_PASSWORD = 'e2e-admin-password-0123';

export interface E2eController {
  current: RunningController;
  url: string;
  grpcPort: number;
  dataDir: string;
  /** Stops the controller (its agents see the stream end) and starts it again on the same ports and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** REST calls as admin (logged in once per start). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies by shape; `any` keeps them short.
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });

/**
 * The controller as `pnpm start` runs it (startController: configuration from environment variables, its
 * own CA for the gRPC listener, LISTEN/NOTIFY on a PostgreSQL server), on fixed ports so that a restart
 * comes back where the agents look for it. Its data stays in `dataDir`, which the caller removes.
 */
export async function startE2eController(db: E2eDatabase, dataDir: string): Promise<E2eController> {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const env = {
    COCKPIT_DATA_DIR: dataDir,
    COCKPIT_DATABASE_URL: db.url,
    COCKPIT_HTTP_PORT: String(httpPort),
    COCKPIT_GRPC_PORT: String(grpcPort),
    COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
    COCKPIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    COCKPIT_LOG_LEVEL: process.env.E2E_CONTROLLER_LOG_LEVEL ?? 'warn',
    // Agents sample every 2 s, so a guest's CPU shows in its series within seconds.
    COCKPIT_METRICS_INTERVAL_MS: '2000',
  };
  let token = '';
  let running: RunningController | undefined;
  const start = async () => {
    running = await startController({
      env,
      cwd: dataDir,
      log: createLogger(env.COCKPIT_LOG_LEVEL as 'warn'),
      print: () => undefined,
    });
    const login = await fetch(`${running.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    token = ((await login.json()) as { token: string }).token;
  };
  await start();
  const handle: E2eController = {
    get current() {
      if (running === undefined) throw new Error('the controller is stopped');
      return running;
    },
    url: `http://127.0.0.1:${httpPort}`,
    grpcPort,
    dataDir,
    start,
    stop: async () => {
      await running?.close();
      running = undefined;
    },
    restart: async () => {
      await handle.stop();
      await start();
    },
    api: async (method, path, body) => {
      const res = await fetch(`${handle.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
  return handle;
}
