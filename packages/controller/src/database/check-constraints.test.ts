import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { ROLES } from '../auth/principal.ts';
import { CHANGE_KINDS, CHANGE_OPS } from '../changes/change-schema.ts';
import { COMMAND_STATUSES } from '../commands/command-schema.ts';
import { HOST_DRIVERS, HOST_STATUSES } from '../hosts/host-schema.ts';
import { COPY_STORAGE_MODES, MIGRATION_STATUSES } from '../migrations/migration-schema.ts';
import { OPERATION_KINDS, OPERATION_STATUSES } from '../operations/operation-schema.ts';
import { VM_STATES } from '../vms/vm-schema.ts';

// Each enumeration is written once in TypeScript (schemas, types, code) and once in a CHECK
// constraint of the schema. Read from the migrated database itself, so a later migration that
// changes a constraint is what gets compared.
describe('CHECK constraints and the enumerations of the code', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** The values of the CHECK (column IN (...)) on table.column, as PostgreSQL stores it. */
  async function allowedValues(table: string, column: string): Promise<string[]> {
    const rows = await db.sql<{ definition: string }[]>`
      select pg_get_constraintdef(c.oid) as definition
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
      where c.contype = 'c' and c.conrelid = ${table}::regclass and a.attname = ${column}`;
    // PostgreSQL keeps `x IN ('a', 'b')` as `CHECK ((x = ANY (ARRAY['a'::text, 'b'::text])))`.
    const lists = rows.map((r) => [...r.definition.matchAll(/'([^']*)'::text/g)].map((m) => m[1] ?? ''));
    expect(lists, `${table}.${column} has one CHECK listing its values`).toHaveLength(1);
    return lists[0] ?? [];
  }

  it.each([
    ['hosts', 'status', HOST_STATUSES],
    ['vms', 'state', VM_STATES],
    ['users', 'role', ROLES],
    ['hosts', 'driver', HOST_DRIVERS],
    ['operations', 'kind', OPERATION_KINDS],
    ['operations', 'status', OPERATION_STATUSES],
    ['commands', 'status', COMMAND_STATUSES],
    ['migrations', 'status', MIGRATION_STATUSES],
    ['migrations', 'copy_storage', COPY_STORAGE_MODES],
    ['changes', 'kind', CHANGE_KINDS],
    ['changes', 'op', CHANGE_OPS],
  ] as const)('%s.%s allows exactly the values of the constant', async (table, column, values) => {
    // As sets: the order of a CHECK list means nothing (ROLES' order does: increasing power).
    expect((await allowedValues(table, column)).sort()).toEqual([...values].sort());
  });
});
