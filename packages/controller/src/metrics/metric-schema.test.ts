import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { METRICS_OF } from './metric-catalog.ts';
import { tableOf } from './metric-tiers.ts';

// The metric names are written twice: in metric-catalog.ts (what ingest, rollups and queries use) and
// as columns in 0006_metrics.sql. This holds the two together.
describe('the metric tables', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it.each(['vm', 'host'] as const)(
    'have a column per %s metric in every tier, in catalog order',
    async (subject) => {
      const columnsOf = async (table: string) =>
        (
          await db.sql<{ column_name: string }[]>`
          select column_name from information_schema.columns where table_name = ${table} order by ordinal_position`
        ).map((c) => c.column_name);
      const names = METRICS_OF[subject].map((m) => m.name);
      expect(await columnsOf(tableOf(subject, 'raw'))).toEqual([`${subject}_id`, 'at', ...names]);
      for (const tier of ['1m', '1h'] as const) {
        expect(await columnsOf(tableOf(subject, tier))).toEqual([
          `${subject}_id`,
          'at',
          ...names.flatMap((n) => [`${n}_avg`, `${n}_max`]),
        ]);
      }
    },
  );
});
