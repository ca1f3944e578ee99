import type { TestProject } from 'vitest/node';

// The database server every test file makes its own database on: TEST_DATABASE_URL when set (CI and
// this repo's `pnpm test`), else one PostgreSQL container per run through Testcontainers (needs Docker).
// Started once here rather than per file; a machine without either still runs the database-free tests.

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL to create test databases on, or why there is none. */
    testDatabaseServer: { url: string } | { unavailable: string };
  }
}

let stop: (() => Promise<unknown>) | undefined;

export async function setup(project: TestProject): Promise<void> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) {
    project.provide('testDatabaseServer', { url: fromEnv });
    return;
  }
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:17-alpine').start();
    stop = () => container.stop();
    project.provide('testDatabaseServer', { url: container.getConnectionUri() });
  } catch (err) {
    project.provide('testDatabaseServer', {
      unavailable: `no TEST_DATABASE_URL and no Testcontainers PostgreSQL (${err instanceof Error ? err.message : String(err)})`,
    });
  }
}

export async function teardown(): Promise<void> {
  await stop?.();
}
