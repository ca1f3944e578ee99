import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

describe('GET /api/v1/users', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists every user by username, without password hashes', async () => {
    const admin = (await t.login('admin', TEST_ADMIN_PASSWORD)).token;
    await t.userWithRole('viewer');
    await t.userWithRole('operator');
    const res = await t.request('GET', '/api/v1/users', { token: admin });
    expect(res.status).toBe(200);
    const users = res.body.users as Array<Record<string, unknown>>;
    expect(users.map((u) => [u.username, u.role])).toEqual([
      ['admin', 'admin'],
      ['operator2', 'operator'],
      ['viewer1', 'viewer'],
    ]);
    for (const u of users) {
      expect(Object.keys(u).sort()).toEqual([
        'created_at',
        'disabled',
        'id',
        'role',
        'updated_at',
        'username',
      ]);
    }
    expect(res.text).not.toContain('argon2');
  });
});
