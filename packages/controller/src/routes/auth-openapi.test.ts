import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/support/test-app.ts';

describe('the auth routes in the OpenAPI document', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('documents each route with its schemas, and bearer security on all but login and refresh', async () => {
    const doc = (await t.request('GET', '/api/v1/openapi.json')).body;
    const op = (path: string, method: string) => doc.paths[path]?.[method];
    expect(op('/api/v1/auth/login', 'post').security).toEqual([]);
    expect(op('/api/v1/auth/refresh', 'post').security).toEqual([]);
    expect(op('/api/v1/auth/refresh', 'post').description).toContain('logs in again');
    expect(Object.keys(op('/api/v1/auth/login', 'post').responses).sort()).toEqual([
      '200',
      '400',
      '401',
      '413',
      '415',
      '429',
      '503',
    ]);
    let withBody = 0;
    for (const [path, ops] of Object.entries<Record<string, { requestBody?: unknown; responses: object }>>(
      doc.paths,
    )) {
      for (const [method, operation] of Object.entries(ops)) {
        if (operation.requestBody === undefined) continue;
        withBody += 1;
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['400', '413', '415', '503']),
        );
      }
    }
    // login, refresh, logout, users create, update and password; join tokens, VM actions, migrate.
    expect(withBody).toBe(9);
    const guarded: Array<[string, string]> = [
      ['/api/v1/auth/logout', 'post'],
      ['/api/v1/users', 'get'],
      ['/api/v1/users', 'post'],
      ['/api/v1/users/{id}/password', 'put'],
      ['/api/v1/users/{id}/disable', 'post'],
      ['/api/v1/users/{id}/enable', 'post'],
      ['/api/v1/users/{id}', 'delete'],
      ['/api/v1/audit', 'get'],
    ];
    for (const [path, method] of guarded) {
      expect(op(path, method)?.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
      expect(op(path, method)?.responses['401'], `${method} ${path}`).toBeDefined();
    }
    expect(doc.components.schemas.TokenResponse.required.sort()).toEqual([
      'expires_in',
      'refresh_token',
      'token',
    ]);
    expect(doc.components.schemas.CreateUserRequest.properties.password.minLength).toBe(12);
    expect(doc.components.schemas.Role.enum).toEqual(['viewer', 'operator', 'admin']);
  });
});
