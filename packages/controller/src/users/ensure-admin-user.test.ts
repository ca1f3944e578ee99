import { readFileSync, statSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/test-database.ts';
import { verifyPassword } from '../auth/passwords.ts';
import { ManualClock } from '../clock.ts';
import { ensureAdminUser, initialPasswordFile, isAdminPasswordError } from './ensure-admin-user.ts';
import { findCredentials } from './user-queries.ts';

const log = pino({ level: 'silent' });
const dataDir = tempDir('cockpit-ensure-admin-');

describe('ensureAdminUser', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('refuses a COCKPIT_ADMIN_PASSWORD shorter than the password policy', async () => {
    let err: unknown;
    try {
      await ensureAdminUser({ sql: db.sql, config: { adminPassword: 'short-pw', dataDir }, log });
    } catch (e) {
      err = e;
    }
    expect(isAdminPasswordError(err)).toBe(true);
    expect(await findCredentials(db.sql, { username: 'admin' })).toBeNull();
  });

  it('creates admin with a generated password printed once, then leaves later starts alone', async () => {
    const printed: string[] = [];
    const print = (text: string) => printed.push(text);
    const clock = new ManualClock();
    const outcome = await ensureAdminUser({ sql: db.sql, config: { dataDir }, log, clock, print });
    expect(outcome).toBe('created-with-generated-password');
    expect(printed).toHaveLength(1);
    const password = /^ {3}(\S+)$/m.exec(printed[0] ?? '')?.[1] ?? '';
    expect(password.length).toBeGreaterThanOrEqual(24);
    const admin = await findCredentials(db.sql, { username: 'admin' });
    expect(admin?.user.role).toBe('admin');
    expect(new Date(admin?.user.created_at ?? 0).getTime()).toBe(clock.now().getTime());
    expect(await verifyPassword(admin?.passwordHash ?? '', password)).toBe(true);
    // Also kept in the data folder, readable by its owner only, and the banner says where.
    const file = initialPasswordFile(dataDir);
    expect(readFileSync(file, 'utf8')).toBe(`${password}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(printed[0]).toContain(file);

    expect(await ensureAdminUser({ sql: db.sql, config: { dataDir }, log, print })).toBe('exists');
    expect(printed).toHaveLength(1);
  });
});
