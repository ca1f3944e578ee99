import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { type AuthConfig, loadConfig } from '../config/config.ts';
import { isServiceError } from '../service-error.ts';
import { createAccessTokens } from './access-tokens.ts';
import {
  ES256_KEY_FILE,
  HS256_KEY_FILE,
  isSigningKeyError,
  loadSigningKeys,
  type SigningKeys,
} from './signing-keys.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cockpit-keys-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const authConfig = (env: Record<string, string>, dir: string): AuthConfig =>
  loadConfig({ COCKPIT_DATA_DIR: dir, ...env }, dir).auth;

const tokensWith = (keys: SigningKeys, clock = new ManualClock()) =>
  createAccessTokens({ keys, issuer: 'cockpit', audience: 'cockpit-api', ttlSeconds: 60, clock });

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isSigningKeyError(err) ? err.code : `other: ${String(err)}`;
  }
  return undefined;
};

describe('loadSigningKeys', () => {
  it('generates an HS256 key into the data folder (0600) once, and reuses it so tokens survive a restart', () => {
    const dir = tempDir();
    const first = loadSigningKeys(authConfig({}, dir), dir);
    const file = join(dir, HS256_KEY_FILE);
    expect(first.generatedFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url').length).toBe(64);
    const token = tokensWith(first).issue({
      id: '019e0014-0000-7000-8000-000000000001',
      role: 'viewer',
      tokenGeneration: 0,
    }).token;

    const second = loadSigningKeys(authConfig({}, dir), dir);
    expect(second.generatedFile).toBeUndefined();
    expect(second.source).toBe('data-folder');
    expect(tokensWith(second).verify(token).userId).toBe('019e0014-0000-7000-8000-000000000001');
  });

  it('generates an ES256 key pair when ES256 is asked for without key files', () => {
    const dir = tempDir();
    const keys = loadSigningKeys(authConfig({ COCKPIT_JWT_ALGORITHM: 'ES256' }, dir), dir);
    expect(keys.algorithm).toBe('ES256');
    expect(statSync(join(dir, ES256_KEY_FILE)).mode & 0o777).toBe(0o600);
    const token = tokensWith(keys).issue({
      id: '019e0014-0000-7000-8000-000000000002',
      role: 'admin',
      tokenGeneration: 0,
    }).token;
    expect(jwt.decode(token, { complete: true })?.header.alg).toBe('ES256');
    expect(
      tokensWith(loadSigningKeys(authConfig({ COCKPIT_JWT_ALGORITHM: 'ES256' }, dir), dir)).verify(token)
        .role,
    ).toBe('admin');
  });

  it('uses configured ES256 key files and refuses an HS256 token signed with the public key (alg confusion)', () => {
    const dir = tempDir();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'public.pem'), publicPem);
    const keys = loadSigningKeys(
      authConfig(
        { COCKPIT_JWT_PRIVATE_KEY_FILE: 'private.pem', COCKPIT_JWT_PUBLIC_KEY_FILE: 'public.pem' },
        dir,
      ),
      dir,
    );
    expect(keys.source).toBe('configured');
    const tokens = tokensWith(keys);
    expect(
      tokens.verify(
        tokens.issue({ id: '019e0014-0000-7000-8000-000000000003', role: 'operator', tokenGeneration: 0 })
          .token,
      ).role,
    ).toBe('operator');
    const now = Math.floor(new ManualClock().now().getTime() / 1000);
    const confused = jwt.sign(
      {
        typ: 'access',
        role: 'admin',
        sub: '019e0014-0000-7000-8000-000000000003',
        jti: 'x',
        iat: now,
        exp: now + 60,
        iss: 'cockpit',
        aud: 'cockpit-api',
      },
      publicPem,
      { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } },
    );
    let err: unknown;
    try {
      tokens.verify(confused);
    } catch (e) {
      err = e;
    }
    expect(isServiceError(err, 'invalid_token')).toBe(true);
  });

  it('refuses a public key that does not match the private key, and a key that is not P-256', () => {
    const dir = tempDir();
    const a = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const b = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'a.pem'), a.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'b.pub.pem'), b.publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'junk.pem'), 'not a key');
    const files = (priv: string, pub?: string) =>
      authConfig(
        { COCKPIT_JWT_PRIVATE_KEY_FILE: priv, ...(pub ? { COCKPIT_JWT_PUBLIC_KEY_FILE: pub } : {}) },
        dir,
      );
    expect(codeOf(() => loadSigningKeys(files('a.pem', 'b.pub.pem'), dir))).toBe('bad_jwt_key');
    expect(codeOf(() => loadSigningKeys(files('rsa.pem'), dir))).toBe('bad_jwt_key');
    expect(codeOf(() => loadSigningKeys(files('junk.pem'), dir))).toBe('bad_jwt_key');
  });

  it('refuses a weak configured secret at start', () => {
    const dir = tempDir();
    const withSecret = (secret: string): AuthConfig => ({ ...authConfig({}, dir), jwtSecret: secret });
    expect(codeOf(() => loadSigningKeys(withSecret('short'), dir))).toBe('weak_jwt_secret');
    expect(codeOf(() => loadSigningKeys(withSecret('a'.repeat(64)), dir))).toBe('weak_jwt_secret');
    expect(codeOf(() => loadSigningKeys(withSecret('changeme'.repeat(8)), dir))).toBe('weak_jwt_secret');
    expect(
      codeOf(() => loadSigningKeys(withSecret('3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e'), dir)),
    ).toBeUndefined();
  });
});
