import { request as httpRequest } from 'node:http';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll } from 'vitest';
import { createTestApp, TEST_ADMIN_PASSWORD, type TestApp, type TestResponse } from './test-app.ts';

/** The claims of an access token, without verifying it. */
export function claimsOf(token: string): jwt.Jwt {
  const decoded = jwt.decode(token, { complete: true });
  if (decoded === null || typeof decoded.payload === 'string') throw new Error('not a JWT');
  return decoded;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned token (`alg: none`) with the given claims: what an attacker hand-crafts. */
export const unsignedToken = (
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string => `${b64({ alg: 'none', typ: 'at+jwt', ...header })}.${b64(payload)}.`;

/** The claims a real access token of this app carries, for forging variants of it. */
export function validClaims(
  t: TestApp,
  userId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const iat = Math.floor(t.clock.now().getTime() / 1000);
  return {
    typ: 'access',
    role: 'admin',
    iat,
    exp: iat + 600,
    iss: t.config.auth.issuer,
    aud: t.config.auth.audience,
    sub: userId,
    jti: 'forged-token-id',
    ...overrides,
  };
}

/** Signs `payload` with the app's own HS256 secret, so only the claims decide whether it passes. */
export function signWithAppSecret(
  t: TestApp,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const secret = t.config.auth.jwtSecret;
  if (secret === undefined) throw new Error('this test app has no HS256 secret');
  // Claims set to undefined are left out (jsonwebtoken refuses to sign an undefined exp).
  const claims = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'at+jwt', ...header },
    // Left out on purpose: jsonwebtoken would otherwise add its own.
    noTimestamp: payload.iat === undefined,
  });
}

/**
 * A JSON POST over real HTTP from a chosen loopback source address (any 127.x.y.z on Linux), so
 * tests can act as several client addresses.
 */
export function postFrom(
  t: TestApp,
  localAddress: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  const url = new URL(path, t.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: keep the text.
          }
          resolve({ status: res.statusCode ?? 0, headers, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The user id (`sub`) an access token was issued to. */
export const userIdOf = (token: string): string => String(claimsOf(token).payload.sub);

/**
 * For a describe block whose tests act as the first admin: starts a test app and logs in as
 * `admin` before its tests (handing both to `ready`), and closes the app after them.
 */
export function withAdminApp(ready: (t: TestApp, adminToken: string) => void): void {
  let app: TestApp | undefined;
  beforeAll(async () => {
    app = await createTestApp();
    ready(app, (await app.login('admin', TEST_ADMIN_PASSWORD)).token);
  });
  afterAll(async () => {
    await app?.close();
  });
}
