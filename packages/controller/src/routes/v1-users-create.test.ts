import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withAdminApp } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

describe.each(['server', 'embedded'] as const)('POST /api/v1/users (%s database)', (database) => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await createTestApp({ database });
    admin = (await t.login('admin', TEST_ADMIN_PASSWORD)).token;
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates a user who can then log in with their role', async () => {
    const res = await t.request('POST', '/api/v1/users', {
      token: admin,
      body: { username: 'alice', password: 'correct horse battery', role: 'operator' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username: 'alice', role: 'operator', disabled: false });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).not.toHaveProperty('password_hash');
    const [row] = await t.sql<
      { password_hash: string }[]
    >`select password_hash from users where username = 'alice'`;
    // argon2id at OWASP's minimum: m=19 MiB, t=2, p=1.
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const tokens = await t.login('alice', 'correct horse battery');
    expect(tokens.expires_in).toBe(3600);
  });

  it('answers 409 to a taken username', async () => {
    const res = await t.request('POST', '/api/v1/users', {
      token: admin,
      body: { username: 'admin', password: 'another long password', role: 'viewer' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });
});

describe('POST /api/v1/users validation', () => {
  let t: TestApp;
  let admin: string;
  withAdminApp((app, token) => {
    t = app;
    admin = token;
  });

  const good = { username: 'bob', password: 'a-long-enough-password', role: 'viewer' };
  it.each([
    ['no body fields', {}, ['body.username', 'body.password', 'body.role']],
    ['an upper-case username', { ...good, username: 'Bob' }, ['body.username']],
    ['a two-letter username', { ...good, username: 'bo' }, ['body.username']],
    ['a username starting with a digit', { ...good, username: '1bob' }, ['body.username']],
    ['a username with a space', { ...good, username: 'bob smith' }, ['body.username']],
    ['a 33-character username', { ...good, username: `b${'o'.repeat(32)}` }, ['body.username']],
    ['an 11-character password', { ...good, password: '12345678901' }, ['body.password']],
    ['an unknown role', { ...good, role: 'root' }, ['body.role']],
    ['a role of the wrong type', { ...good, role: 1 }, ['body.role']],
  ])('answers 400 naming the field for %s', async (_name, body, fields) => {
    const res = await t.request('POST', '/api/v1/users', { token: admin, body });
    expect(res.status).toBe(400);
    const paths = new Set((res.body.error.details as Array<{ path: string }>).map((d) => d.path));
    expect([...paths].sort()).toEqual([...fields].sort());
  });
});
