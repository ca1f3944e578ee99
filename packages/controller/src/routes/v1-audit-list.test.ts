import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';

interface Entry {
  id: number;
  action: string;
  result: string;
  status: number;
  actor_id: string | null;
  actor_username: string | null;
  target: string | null;
  request_id: string | null;
  client_address: string | null;
  at: string;
  detail: Record<string, unknown> | null;
}

describe('the audit log', () => {
  let t: TestApp;
  let admin: { token: string; refresh_token: string };
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const read = async (query = '') => {
    const res = await t.request('GET', `/api/v1/audit${query}`, { token: admin.token });
    expect(res.status).toBe(200);
    return res.body as { entries: Entry[]; next_before: number | null };
  };

  it('records every mutating call that reached a caller with who, what, target, result and request id; reads are not recorded', async () => {
    const failed = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: 'wrong-password' },
      headers: { 'x-request-id': 'audit-test-1' },
    });
    expect(failed.status).toBe(401);
    admin = await t.login('admin', TEST_ADMIN_PASSWORD);
    const created = await t.request('POST', '/api/v1/users', {
      token: admin.token,
      body: { username: 'carol', password: 'carols-long-password', role: 'viewer' },
    });
    const refusedBefore = t.services.refusals.totals().unauthenticated;
    const anonymous = await t.request('POST', '/api/v1/users', { body: {} });
    expect(anonymous.status).toBe(401);
    // Refused before anyone could be named: counted, not written (a flood must not grow the log).
    expect(t.services.refusals.totals().unauthenticated).toBe(refusedBefore + 1);
    const refreshed = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: admin.refresh_token },
    });
    admin = refreshed.body;
    await t.request('GET', '/api/v1/hosts', { token: admin.token });

    const { entries } = await read();
    const summary = entries.map((e) => [e.action, e.result, e.actor_username]);
    expect(summary).toEqual([
      ['POST /api/v1/auth/refresh', 'success', 'admin'],
      ['POST /api/v1/users', 'success', 'admin'],
      ['POST /api/v1/auth/login', 'success', 'admin'],
      ['POST /api/v1/auth/login', 'unauthorized', 'admin'],
      // The first start created the admin: recorded too, with how its password was set.
      ['create first admin', 'success', 'cockpit (first start)'],
    ]);
    const [, create, login, failure, first] = entries;
    expect(first?.detail).toEqual({ username: 'admin', role: 'admin', password: 'COCKPIT_ADMIN_PASSWORD' });
    expect(create?.detail).toEqual({ username: 'carol', role: 'viewer' });
    expect(create).toMatchObject({ status: 201, target: `user:${created.body.id}` });
    expect(create?.request_id).toBe(created.headers.get('x-request-id'));
    expect(login?.actor_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(failure).toMatchObject({ actor_id: null, status: 401, request_id: 'audit-test-1' });
    expect(failure?.client_address).toBe('127.0.0.1');
    expect(new Date(failure?.at ?? '').getTime()).toBe(t.clock.now().getTime());
  });

  it('pages newest first with limit and before', async () => {
    const first = await read('?limit=2');
    expect(first.entries).toHaveLength(2);
    expect(first.next_before).toBe(first.entries[1]?.id);
    const second = await read(`?limit=2&before=${first.next_before}`);
    expect(second.entries[0]?.id).toBeLessThan(first.entries[1]?.id ?? 0);
    const all = await read('?limit=500');
    expect(all.next_before).toBeNull();
    expect(all.entries.map((e) => e.id)).toEqual([...all.entries.map((e) => e.id)].sort((a, b) => b - a));
  });

  it.each([
    ['?limit=0', 'query.limit'],
    ['?limit=501', 'query.limit'],
    ['?limit=ten', 'query.limit'],
    ['?before=0', 'query.before'],
    ['?before=1.5', 'query.before'],
    ['?from=yesterday', 'query.from'],
    // RFC 3339 writes these, PostgreSQL stores none of them: year 0, and an offset that moves past 9999.
    ['?from=0000-01-01T00:00:00Z', 'query.from'],
    ['?to=9999-12-31T23:59:59-23:59', 'query.to'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const res = await t.request('GET', `/api/v1/audit${query}`, { token: admin.token });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe(field);
  });

  it('records requests refused by validation with the error code', async () => {
    const res = await t.request('POST', '/api/v1/users', { token: admin.token, body: { username: 'X' } });
    expect(res.status).toBe(400);
    const [latest] = (await read('?limit=1')).entries;
    expect(latest).toMatchObject({
      action: 'POST /api/v1/users',
      result: 'validation_failed',
      status: 400,
      actor_username: 'admin',
      request_id: res.headers.get('x-request-id'),
    });
  });

  it('is readable by admins only', async () => {
    const operator = await t.userWithRole('operator');
    expect((await t.request('GET', '/api/v1/audit', { token: operator.tokens.token })).status).toBe(403);
  });
});
