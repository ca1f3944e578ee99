import { describe, expect, it } from 'vitest';
import { userIdOf, withAdminApp } from '../../test/support/auth-test-helpers.ts';
import type { TestApp } from '../../test/support/test-app.ts';

describe('DELETE /api/v1/users/:id', () => {
  let t: TestApp;
  let admin: string;
  withAdminApp((app, token) => {
    t = app;
    admin = token;
  });

  it('deletes a user and their sessions; the username is free again', async () => {
    const user = await t.userWithRole('viewer');
    const id = userIdOf(user.tokens.token);
    expect((await t.request('DELETE', `/api/v1/users/${id}`, { token: admin })).status).toBe(204);
    expect((await t.request('GET', '/api/v1/hosts', { token: user.tokens.token })).status).toBe(401);
    const refresh = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: user.tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);
    expect((await t.request('DELETE', `/api/v1/users/${id}`, { token: admin })).status).toBe(404);
    const again = await t.request('POST', '/api/v1/users', {
      token: admin,
      body: { username: user.username, password: 'a-brand-new-password', role: 'viewer' },
    });
    expect(again.status).toBe(201);
  });

  it('refuses to delete yourself (409) and answers 400 to a bad id', async () => {
    expect((await t.request('DELETE', `/api/v1/users/${userIdOf(admin)}`, { token: admin })).status).toBe(
      409,
    );
    const bad = await t.request('DELETE', '/api/v1/users/nope', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('path.id');
  });
});
