import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';
import type { Role } from '../auth/principal.ts';

/**
 * Who may call each /api/v1 route. A route added to the app without a line here fails the first
 * test, so every new route joins the matrix. For routes taking an `:id`, the matrix calls them on
 * someone else's (random) id: `PUT /users/:id/password` is open to any user for their own id only.
 */
const ACCESS: Record<string, Role | 'public'> = {
  'GET /api/v1/openapi.json': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/refresh': 'public',
  'POST /api/v1/auth/logout': 'viewer',
  'GET /api/v1/hosts': 'viewer',
  'GET /api/v1/hosts/:id': 'viewer',
  'DELETE /api/v1/hosts/:id': 'admin',
  'GET /api/v1/hosts/:id/metrics': 'viewer',
  'POST /api/v1/hosts/join-tokens': 'admin',
  'GET /api/v1/vms': 'viewer',
  'GET /api/v1/vms/:id': 'viewer',
  'POST /api/v1/vms/:id/action': 'operator',
  'GET /api/v1/vms/:id/metrics': 'viewer',
  'POST /api/v1/vms/:id/migrate': 'operator',
  'GET /api/v1/migrations': 'viewer',
  'GET /api/v1/migrations/:id': 'viewer',
  'POST /api/v1/migrations/:id/cancel': 'operator',
  'POST /api/v1/migrations/:id/force-complete': 'operator',
  'GET /api/v1/operations': 'viewer',
  'GET /api/v1/operations/:id': 'viewer',
  'GET /api/v1/me': 'viewer',
  'GET /api/v1/users': 'admin',
  // Anyone may read themselves; the matrix calls it on someone else's id.
  'GET /api/v1/users/:id': 'admin',
  'PATCH /api/v1/users/:id': 'admin',
  'POST /api/v1/users': 'admin',
  'PUT /api/v1/users/:id/password': 'admin',
  'POST /api/v1/users/:id/disable': 'admin',
  'POST /api/v1/users/:id/enable': 'admin',
  'DELETE /api/v1/users/:id': 'admin',
  'GET /api/v1/audit': 'admin',
};

/**
 * Which roles each requirement admits, written down here rather than computed with the code under
 * test's own `roleAtLeast` (a bug there would otherwise move the expectations with it).
 */
const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
const ADMITTED: Record<Role, readonly Role[]> = {
  viewer: ['viewer', 'operator', 'admin'],
  operator: ['operator', 'admin'],
  admin: ['admin'],
};

const routesOf = (t: TestApp): string[] =>
  [
    ...new Set(
      t.app.routes
        .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/v1/'))
        .map((r) => `${r.method} ${r.path}`),
    ),
  ].sort();

describe('role × route matrix', () => {
  let t: TestApp;
  const tokens = {} as Record<Role, string>;
  beforeAll(async () => {
    t = await createTestApp();
    for (const role of ROLES) tokens[role] = (await t.userWithRole(role)).tokens.token;
  });
  afterAll(async () => {
    await t.close();
  });

  it('covers every /api/v1 route of the app', () => {
    expect(routesOf(t)).toEqual(Object.keys(ACCESS).sort());
  });

  // The OpenAPI security requirement and its enforcement come from one helper (authedRoute); this
  // holds them together from the outside: documented as needing a token ⇔ refused without one above.
  it('documents bearer security on exactly the routes that need a token', async () => {
    const doc = (await t.request('GET', '/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    const documented = Object.fromEntries(
      Object.entries(doc.paths).flatMap(([path, operations]) =>
        Object.entries(operations).map(([method, op]) => [
          `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
          op.security === undefined || (Array.isArray(op.security) && op.security.length === 0)
            ? 'public'
            : 'token',
        ]),
      ),
    );
    const expected = Object.fromEntries(
      Object.entries(ACCESS)
        .filter(([route]) => route !== 'GET /api/v1/openapi.json')
        .map(([route, need]) => [route, need === 'public' ? 'public' : 'token']),
    );
    expect(Object.fromEntries(Object.entries(documented).filter(([route]) => route in ACCESS))).toEqual(
      expected,
    );
  });

  const call = (route: string, token?: string) => {
    const [method = '', path = ''] = route.split(' ');
    const withBody = method !== 'GET' && method !== 'DELETE';
    return t.request(method, path.replaceAll(':id', randomUUID()), {
      token,
      ...(withBody ? { body: {} } : {}),
    });
  };

  const rows = Object.entries(ACCESS);
  it.each(rows)('%s (needs %s)', async (route, need) => {
    const anonymous = await call(route);
    if (need === 'public') {
      expect(anonymous.status).not.toBe(401);
      expect(anonymous.status).not.toBe(403);
      return;
    }
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="cockpit"');
    for (const role of ROLES) {
      const res = await call(route, tokens[role]);
      if (ADMITTED[need].includes(role)) {
        expect([401, 403], `${role} on ${route}`).not.toContain(res.status);
      } else {
        expect(res.status, `${role} on ${route}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
  });
});
