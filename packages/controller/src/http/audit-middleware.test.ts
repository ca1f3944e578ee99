import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIdOf } from '../../test/support/auth-test-helpers.ts';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp } from '../../test/support/test-app.ts';
import { AUDIT_PATH_MAX, insertAuditEntry } from '../audit/audit-queries.ts';

interface Entry {
  action: string;
  method: string;
  path: string;
  result: string;
  status: number;
  actor_username: string | null;
  target: string | null;
  request_id: string | null;
}

describe('what the audit log keeps, and what it only counts', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await createTestApp();
    admin = (await t.login('admin', TEST_ADMIN_PASSWORD)).token;
  });
  afterAll(async () => {
    await t.close();
  });

  const auditRows = async () => {
    const [row] = await t.sql<{ n: number }[]>`select count(*)::int as n from audit_log`;
    return row?.n ?? 0;
  };
  const entryOf = async (requestId: string | null) => {
    const res = await t.request('GET', '/api/v1/audit?limit=50', { token: admin });
    return (res.body.entries as Entry[]).find((e) => e.request_id === requestId);
  };

  it('counts, without a row each, mutating requests to no route or without a valid token', async () => {
    const rowsBefore = await auditRows();
    const before = t.services.refusals.totals();
    const long = `/api/v1/${'x'.repeat(8000)}`;
    for (let i = 0; i < 20; i += 1) {
      expect((await t.request('POST', `${long}${i}`, { body: {} })).status).toBe(404);
      expect((await t.request('DELETE', `/api/v1/no-such-thing/${i}`)).status).toBe(404);
      expect((await t.request('POST', '/api/v1/users', { body: {}, token: `bad-${i}` })).status).toBe(401);
      expect((await t.request('PUT', `/api/v1/users/${userIdOf(admin)}/password`, { body: {} })).status).toBe(
        401,
      );
    }
    expect(await auditRows()).toBe(rowsBefore);
    const after = t.services.refusals.totals();
    expect(after.no_route - before.no_route).toBe(40);
    expect(after.unauthenticated - before.unauthenticated).toBe(40);
    // One summary line for the burst, not one per request.
    const lines = t.logs.filter((l) => String(l.msg).includes('refused before reaching a route'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
  });

  it('records every mutating method that reached a signed-in caller: POST, PUT and DELETE', async () => {
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    const put = await t.request('PUT', `/api/v1/users/${id}/password`, {
      token: admin,
      body: { password: 'a-brand-new-password-1' },
    });
    expect(put.status).toBe(204);
    const disable = await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin });
    expect(disable.status).toBe(200);
    const del = await t.request('DELETE', `/api/v1/users/${id.toUpperCase()}`, { token: admin });
    expect(del.status).toBe(204);
    const denied = await t.request('DELETE', `/api/v1/users/${id}`, { token: user.tokens.token });
    expect(denied.status).toBe(401);

    expect(await entryOf(put.headers.get('x-request-id'))).toMatchObject({
      method: 'PUT',
      action: 'PUT /api/v1/users/:id/password',
      result: 'success',
      status: 204,
      actor_username: 'admin',
      target: `user:${id}`,
    });
    expect(await entryOf(disable.headers.get('x-request-id'))).toMatchObject({
      method: 'POST',
      action: 'POST /api/v1/users/:id/disable',
      target: `user:${id}`,
    });
    expect(await entryOf(del.headers.get('x-request-id'))).toMatchObject({
      method: 'DELETE',
      action: 'DELETE /api/v1/users/:id',
      result: 'success',
      status: 204,
      target: `user:${id}`,
    });
    // The deleted user's own token no longer names anyone: counted, not recorded.
    expect(await entryOf(denied.headers.get('x-request-id'))).toBeUndefined();
  });

  it('records sign-in attempts even when refused before naming a user (a NUL in the username)', async () => {
    const res = await t.request('POST', '/api/v1/auth/login', {
      body: { username: 'ad\u0000min', password: 'whatever-it-is' },
    });
    expect(res.status).toBe(400);
    expect(await entryOf(res.headers.get('x-request-id'))).toMatchObject({
      action: 'POST /api/v1/auth/login',
      result: 'validation_failed',
      actor_username: null,
    });
  });

  it('stores bounded, storable text: long paths cut, NUL as U+FFFD', async () => {
    await insertAuditEntry(t.sql, {
      at: t.clock.now(),
      requestId: 'bounded-1',
      actorId: null,
      actorUsername: 'ad\u0000min',
      action: 'POST /api/v1/x',
      method: 'POST',
      path: `/api/v1/${'y'.repeat(8000)}\u0000`,
      target: null,
      result: 'success',
      status: 200,
      clientAddress: '127.0.0.1',
    });
    const entry = await entryOf('bounded-1');
    expect(entry?.path.length).toBe(AUDIT_PATH_MAX);
    expect(entry?.path.endsWith('…')).toBe(true);
    expect(entry?.actor_username).toBe('ad\uFFFDmin');
  });

  it('answers headers over 16 KB with the envelope (431 headers_too_large), not a bare status line', async () => {
    const url = new URL(t.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(Number(url.port), url.hostname, () => {
        socket.write(`GET /api/v1/hosts HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('utf8');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/content-type: application\/json/i);
    const parsed = JSON.parse(body) as { error: { code: string; message: string; requestId: string } };
    expect(parsed.error.code).toBe('headers_too_large');
    expect(parsed.error.message).toContain('16 KB');
    expect(head).toContain(`X-Request-Id: ${parsed.error.requestId}`);
  });
});
