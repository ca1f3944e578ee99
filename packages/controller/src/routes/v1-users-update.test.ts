import { describe, expect, it } from 'vitest';
import { userIdOf, withAdminApp } from '../../test/support/auth-test-helpers.ts';
import type { TestApp } from '../../test/support/test-app.ts';

describe('GET /api/v1/me, GET /api/v1/users/:id, PATCH /api/v1/users/:id', () => {
  let t: TestApp;
  let admin: string;
  withAdminApp((app, token) => {
    t = app;
    admin = token;
  });

  it('says who the caller is, with the role they hold now', async () => {
    const user = await t.userWithRole('operator');
    const me = await t.request('GET', '/api/v1/me', { token: user.tokens.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: userIdOf(user.tokens.token),
      username: user.username,
      role: 'operator',
    });
    expect(Object.keys(me.body).sort()).toEqual([
      'created_at',
      'disabled',
      'id',
      'role',
      'updated_at',
      'username',
    ]);
  });

  it('lets admins read anyone and others only themselves, in any letter case', async () => {
    const user = await t.userWithRole('viewer');
    const other = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    expect(
      (await t.request('GET', `/api/v1/users/${id.toUpperCase()}`, { token: admin })).body.username,
    ).toBe(user.username);
    expect((await t.request('GET', `/api/v1/users/${id}`, { token: user.tokens.token })).status).toBe(200);
    const refused = await t.request('GET', `/api/v1/users/${id}`, { token: other.tokens.token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const unknown = await t.request('GET', '/api/v1/users/019e0014-0000-7000-8000-000000000000', {
      token: admin,
    });
    expect(unknown.status).toBe(404);
  });

  it('changes a role: the user’s access and refresh tokens end, the audit entry says what changed', async () => {
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    const res = await t.request('PATCH', `/api/v1/users/${id}`, { token: admin, body: { role: 'operator' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, role: 'operator' });
    // The token issued before the change is refused at once, and so is its refresh token.
    const stale = await t.request('GET', '/api/v1/me', { token: user.tokens.token });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toContain('log in again');
    const refresh = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: user.tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);
    const fresh = await t.login(user.username, user.password);
    expect((await t.request('GET', '/api/v1/me', { token: fresh.token })).body.role).toBe('operator');

    const audit = await t.request(
      'GET',
      `/api/v1/audit?action=${encodeURIComponent('PATCH /api/v1/users/:id')}&target=user:${id}`,
      {
        token: admin,
      },
    );
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({
      actor_username: 'admin',
      result: 'success',
      detail: { username: user.username, role: 'operator', previous_role: 'viewer' },
    });
  });

  it('leaves sessions alone when the role does not change', async () => {
    const user = await t.userWithRole('operator');
    const id = userIdOf(user.tokens.token);
    expect(
      (await t.request('PATCH', `/api/v1/users/${id}`, { token: admin, body: { role: 'operator' } })).status,
    ).toBe(200);
    expect((await t.request('GET', '/api/v1/me', { token: user.tokens.token })).status).toBe(200);
  });

  it('never demotes the last enabled admin, also under two concurrent demotions', async () => {
    const a = await t.userWithRole('admin');
    const b = await t.userWithRole('admin');
    const [ida, idb] = [userIdOf(a.tokens.token), userIdOf(b.tokens.token)];
    // Leave a and b the only enabled admins.
    await t.sql`update users set disabled_at = ${t.clock.now()} where role = 'admin' and id not in (${ida}, ${idb})`;
    const results = await Promise.all([
      t.request('PATCH', `/api/v1/users/${ida}`, { token: b.tokens.token, body: { role: 'viewer' } }),
      t.request('PATCH', `/api/v1/users/${idb}`, { token: a.tokens.token, body: { role: 'viewer' } }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    // One demotion wins; the other is refused, either as the last admin (409) or because its caller
    // was just demoted and its token ended (401).
    expect(statuses[0]).toBe(200);
    expect([401, 409]).toContain(statuses[1]);
    const [row] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from users where role = 'admin' and disabled_at is null`;
    expect(row?.n).toBe(1);
    await t.sql`update users set disabled_at = null where role = 'admin'`;
  });

  it('refuses what it cannot do with a clear 400: unknown fields, an unknown role', async () => {
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    const extra = await t.request('PATCH', `/api/v1/users/${id}`, {
      token: admin,
      body: { role: 'viewer', password: 'sneaky-password-123' },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe('validation_failed');
    const bad = await t.request('PATCH', `/api/v1/users/${id}`, { token: admin, body: { role: 'root' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('body.role');
  });

  it('ends access tokens on a password change and on a disable, which enabling does not revive', async () => {
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    expect(
      (
        await t.request('PUT', `/api/v1/users/${id}/password`, {
          token: admin,
          body: { password: 'brand-new-password-1' },
        })
      ).status,
    ).toBe(204);
    expect((await t.request('GET', '/api/v1/me', { token: user.tokens.token })).status).toBe(401);
    const second = await t.login(user.username, 'brand-new-password-1');
    expect((await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin })).status).toBe(200);
    expect((await t.request('POST', `/api/v1/users/${id}/enable`, { token: admin })).status).toBe(200);
    expect((await t.request('GET', '/api/v1/me', { token: second.token })).status).toBe(401);
    const third = await t.login(user.username, 'brand-new-password-1');
    expect((await t.request('GET', '/api/v1/me', { token: third.token })).status).toBe(200);
  });

  it('filters the audit log by actor, action, target and time, and refuses a bad time', async () => {
    const before = t.clock.now().toISOString();
    t.clock.advance(1000);
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin });
    t.clock.advance(1000);
    const after = t.clock.now().toISOString();
    const read = async (query: string) =>
      (await t.request('GET', `/api/v1/audit?${query}`, { token: admin })).body.entries as Array<{
        action: string;
        target: string;
      }>;
    const byTarget = await read(`target=user:${id}&actor=admin`);
    expect(byTarget.map((e) => e.action)).toEqual(['POST /api/v1/users/:id/disable']);
    expect(await read(`target=user:${id}&actor=${userIdOf(admin)}`)).toHaveLength(1);
    expect(await read(`target=user:${id}&actor=someone-else`)).toHaveLength(0);
    // The user's own login (by userWithRole) targets them too: two entries in that span.
    expect(await read(`target=user:${id}&from=${before}&to=${after}`)).toHaveLength(2);
    expect(await read(`target=user:${id}&actor=admin&from=${before}&to=${after}`)).toHaveLength(1);
    expect(await read(`target=user:${id}&to=${before}`)).toHaveLength(0);
    const bad = await t.request('GET', '/api/v1/audit?from=yesterday', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toEqual({
      path: 'query.from',
      message: 'must be an RFC 3339 time such as 2026-12-03T10:00:00Z',
    });
  });
});
