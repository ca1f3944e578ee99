import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.ts';
import { type RunningController, startController } from './controller.ts';
import { createLogger } from './log.ts';

describe('startController on a PostgreSQL server', () => {
  let db: TestDatabase;
  const dataDirs: string[] = [];
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await db?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  const replicaEnv = (secret: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-replica-'));
    dataDirs.push(dataDir);
    return {
      COCKPIT_DATA_DIR: dataDir,
      COCKPIT_DATABASE_URL: db.url,
      COCKPIT_HTTP_PORT: '0',
      COCKPIT_GRPC_PORT: '0',
      COCKPIT_JWT_SECRET: secret,
      COCKPIT_ADMIN_PASSWORD: 'replica-admin-password',
    };
  };

  it('starts replicas together: one migration, one admin, and a token from one works on the other', async () => {
    const secret = randomBytes(32).toString('hex');
    const log = createLogger('warn', pino.destination({ dest: '/dev/null', sync: true }));
    const replicas: RunningController[] = await Promise.all(
      [0, 1, 2].map(() => startController({ env: replicaEnv(secret), log })),
    );
    try {
      expect(replicas.every((r) => r.embedded === undefined)).toBe(true);
      const [migrations] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM schema_migrations`;
      const [admins] = await db.sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM users WHERE username = 'admin'`;
      expect(admins?.n).toBe(1);
      expect(migrations?.n).toBeGreaterThanOrEqual(2);

      const [a, b] = replicas;
      const login = await fetch(`${a?.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'replica-admin-password' }),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const hosts = await fetch(`${b?.url}/api/v1/hosts`, { headers: { authorization: `Bearer ${token}` } });
      expect(hosts.status).toBe(200);
      for (const r of replicas) expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});
