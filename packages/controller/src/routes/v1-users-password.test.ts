import { describe, expect, it } from 'vitest';
import { userIdOf, withAdminApp } from '../../test/support/auth-test-helpers.ts';
import type { TestApp } from '../../test/support/test-app.ts';

describe('PUT /api/v1/users/:id/password', () => {
  let t: TestApp;
  let admin: string;
  withAdminApp((app, token) => {
    t = app;
    admin = token;
  });
  const loginStatus = async (username: string, password: string) =>
    (await t.request('POST', '/api/v1/auth/login', { body: { username, password } })).status;

  it('lets an admin set anyone’s password and ends that user’s sessions', async () => {
    const user = await t.userWithRole('operator');
    const id = userIdOf(user.tokens.token);
    const res = await t.request('PUT', `/api/v1/users/${id}/password`, {
      token: admin,
      body: { password: 'set-by-the-admin-123' },
    });
    expect(res.status).toBe(204);
    expect(await loginStatus(user.username, user.password)).toBe(401);
    expect(await loginStatus(user.username, 'set-by-the-admin-123')).toBe(200);
    const refresh = await t.request('POST', '/api/v1/auth/refresh', {
      body: { refresh_token: user.tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);
  });

  it('lets a user change their own password with the current one', async () => {
    const user = await t.userWithRole('viewer');
    const path = `/api/v1/users/${userIdOf(user.tokens.token)}/password`;
    const token = user.tokens.token;
    const missing = await t.request('PUT', path, { token, body: { password: 'my-new-password-1' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details[0].path).toBe('body.current_password');
    const wrong = await t.request('PUT', path, {
      token,
      body: { password: 'my-new-password-1', current_password: 'not-it' },
    });
    expect(wrong.status).toBe(403);
    const ok = await t.request('PUT', path, {
      token,
      body: { password: 'my-new-password-1', current_password: user.password },
    });
    expect(ok.status).toBe(204);
    expect(await loginStatus(user.username, 'my-new-password-1')).toBe(200);
  });

  it('counts concurrent guesses of the current password before checking them (40 at once)', async () => {
    const user = await t.userWithRole('viewer');
    const path = `/api/v1/users/${userIdOf(user.tokens.token)}/password`;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        t.request('PUT', path, {
          token: user.tokens.token,
          body: {
            password: 'stolen-token-password-1',
            current_password: i === 35 ? user.password : `guess-${i}`,
          },
        }),
      ),
    );
    expect(answers.filter((r) => r.status !== 429).length).toBeLessThanOrEqual(5);
    expect(answers.some((r) => r.status === 204)).toBe(false);
    // Still the old password, once the block those guesses earned has passed.
    t.clock.advance(30_000);
    expect(await loginStatus(user.username, user.password)).toBe(200);
  });

  it('throttles guesses of the current password like logins', async () => {
    const user = await t.userWithRole('operator');
    const path = `/api/v1/users/${userIdOf(user.tokens.token)}/password`;
    const attempt = (current_password: string) =>
      t.request('PUT', path, {
        token: user.tokens.token,
        body: { password: 'the-new-password-1', current_password },
      });
    for (let i = 0; i < 5; i += 1) expect((await attempt(`guess-${i}`)).status).toBe(403);
    const blocked = await attempt(user.password);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('30');
    t.clock.advance(30_000);
    expect((await attempt(user.password)).status).toBe(204);
  });

  it('refuses a non-admin changing someone else’s password, before looking at the body', async () => {
    const user = await t.userWithRole('operator');
    const res = await t.request('PUT', `/api/v1/users/${userIdOf(admin)}/password`, {
      token: user.tokens.token,
      body: { password: 'short' },
    });
    expect(res.status).toBe(403);
  });

  it('answers 404 for an unknown user and 400 naming the field for bad input', async () => {
    const unknown = await t.request('PUT', '/api/v1/users/019e0014-0000-7000-8000-000000000000/password', {
      token: admin,
      body: { password: 'long-enough-password' },
    });
    expect(unknown.status).toBe(404);
    const badId = await t.request('PUT', '/api/v1/users/not-a-uuid/password', {
      token: admin,
      body: { password: 'long-enough-password' },
    });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details[0].path).toBe('path.id');
    const short = await t.request('PUT', `/api/v1/users/${userIdOf(admin)}/password`, {
      token: admin,
      body: { password: 'too-short' },
    });
    expect(short.status).toBe(400);
    expect(short.body.error.details[0].path).toBe('body.password');
  });
});
