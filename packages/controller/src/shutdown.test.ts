import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../test/support/temp-dir.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.ts';
import { startController } from './controller.ts';
import { createLogger } from './log.ts';
import { CLOSE_MARGIN_MS, signalHandler } from './shutdown.ts';

const GRACE_MS = 500;
const PASSWORD = 'shutdown-test-password';

function rawSocket(url: URL, text: string, options: { pause?: boolean } = {}): Socket {
  const socket = netConnect(Number(url.port), url.hostname, () => socket.write(text));
  socket.on('error', () => undefined);
  if (options.pause === true) socket.pause();
  else socket.resume();
  return socket;
}

describe('SIGTERM always ends the controller', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  const dataDir = tempDir('cockpit-shutdown-');
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('closes within its deadline under load: requests in flight, a half-sent request, a slow reader (20 times)', async () => {
    for (let round = 0; round < 20; round += 1) {
      const controller = await startController({
        env: {
          COCKPIT_DATA_DIR: dataDir,
          COCKPIT_DATABASE_URL: db.url,
          COCKPIT_HTTP_PORT: '0',
          COCKPIT_GRPC_PORT: '0',
          COCKPIT_ADMIN_PASSWORD: PASSWORD,
          COCKPIT_SHUTDOWN_GRACE_MS: String(GRACE_MS),
        },
        cwd: dataDir,
        log: createLogger('silent'),
        print: () => undefined,
      });
      const url = new URL(controller.url);
      const sockets = [
        // Headers sent, the body promised but never finished.
        rawSocket(
          url,
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
        ),
        // Asks for 1.5 MB and never reads it.
        rawSocket(url, 'GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n', { pause: true }),
      ];
      const load = Array.from({ length: 20 }, (_, i) =>
        fetch(new URL(i % 2 === 0 ? '/api/v1/auth/login' : '/readyz', url), {
          method: i % 2 === 0 ? 'POST' : 'GET',
          headers: { 'content-type': 'application/json' },
          body: i % 2 === 0 ? JSON.stringify({ username: 'admin', password: PASSWORD }) : undefined,
        }).catch(() => undefined),
      );
      const exited = new Promise<number>((resolve) => {
        const stop = signalHandler(controller, createLogger('silent'), resolve);
        stop('SIGTERM');
      });
      const sent = Date.now();
      const code = await exited;
      const took = Date.now() - sent;
      await Promise.all(load);
      for (const s of sockets) s.destroy();
      expect(code, `round ${round}`).toBe(0);
      // The grace period, then closing: within the deadline.
      expect(took, `round ${round}`).toBeLessThan(GRACE_MS + CLOSE_MARGIN_MS);
    }
  });

  it('exits 1 at the deadline when closing hangs, and at once on a second signal', async () => {
    const hanging = { config: { shutdownGraceMs: 50 }, close: () => new Promise<void>(() => undefined) };
    const started = Date.now();
    const code = await new Promise<number>((resolve) =>
      signalHandler(hanging, createLogger('silent'), resolve)('SIGTERM'),
    );
    expect(code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 + CLOSE_MARGIN_MS - 20);

    const codes: number[] = [];
    const stop = signalHandler(hanging, createLogger('silent'), (c) => codes.push(c));
    stop('SIGTERM');
    stop('SIGINT');
    expect(codes).toEqual([1]);
  });
});
