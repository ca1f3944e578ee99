import { describe, expect, it } from 'vitest';
import { userIdOf, withAdminApp } from '../../test/support/auth-test-helpers.ts';
import type { TestApp } from '../../test/support/test-app.ts';

describe('POST /api/v1/users/:id/disable and /enable', () => {
  let t: TestApp;
  let admin: string;
  withAdminApp((app, token) => {
    t = app;
    admin = token;
  });

  it('disables a user: no login, no refresh, access token refused; enable lets them log in again', async () => {
    const user = await t.userWithRole('operator');
    const id = userIdOf(user.tokens.token);
    const res = await t.request('POST', `/api/v1/users/${id}/disable`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, disabled: true });
    const login = await t.request('POST', '/api/v1/auth/login', {
      body: { username: user.username, password: user.password },
    });
    expect(login.status).toBe(401);
    expect(login.body.error.message).toBe('invalid username or password');
    expect((await t.request('GET', '/api/v1/vms', { token: user.tokens.token })).status).toBe(401);

    const enabled = await t.request('POST', `/api/v1/users/${id}/enable`, { token: admin });
    expect(enabled.status).toBe(200);
    expect(enabled.body.disabled).toBe(false);
    expect((await t.login(user.username, user.password)).expires_in).toBe(3600);
  });

  it('refuses to disable yourself (409), and 404s an unknown id on both routes', async () => {
    const self = await t.request('POST', `/api/v1/users/${userIdOf(admin)}/disable`, { token: admin });
    expect(self.status).toBe(409);
    const unknown = '019e0014-0000-7000-8000-000000000000';
    expect((await t.request('POST', `/api/v1/users/${unknown}/disable`, { token: admin })).status).toBe(404);
    expect((await t.request('POST', `/api/v1/users/${unknown}/enable`, { token: admin })).status).toBe(404);
    const bad = await t.request('POST', '/api/v1/users/123/enable', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('path.id');
  });

  it('takes ids in any letter case: no self-disable or self-delete through upper case, cache cleared at once', async () => {
    const upperSelf = userIdOf(admin).toUpperCase();
    expect((await t.request('POST', `/api/v1/users/${upperSelf}/disable`, { token: admin })).status).toBe(
      409,
    );
    expect((await t.request('DELETE', `/api/v1/users/${upperSelf}`, { token: admin })).status).toBe(409);
    expect((await t.request('GET', '/api/v1/users', { token: admin })).status).toBe(200);

    const user = await t.userWithRole('operator');
    // The replica has just read this user (cached for a second)...
    expect((await t.request('GET', '/api/v1/vms', { token: user.tokens.token })).status).toBe(200);
    const upper = userIdOf(user.tokens.token).toUpperCase();
    const res = await t.request('POST', `/api/v1/users/${upper}/disable`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(userIdOf(user.tokens.token));
    // ...and forgets it at once, whatever the spelling of the id that disabled it.
    expect((await t.request('GET', '/api/v1/vms', { token: user.tokens.token })).status).toBe(401);
  });

  it('lets one admin disable another, who is then locked out', async () => {
    const other = await t.userWithRole('admin');
    const res = await t.request('POST', `/api/v1/users/${userIdOf(other.tokens.token)}/disable`, {
      token: admin,
    });
    expect(res.status).toBe(200);
    expect((await t.request('GET', '/api/v1/users', { token: other.tokens.token })).status).toBe(401);
  });
});
