import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../coded-error.ts';
import type { AuthConfig, JwtAlgorithm } from '../config/config.ts';

export type SigningKeyErrorCode = 'weak_jwt_secret' | 'bad_jwt_key';

/** A signing key the controller must not start with. */
export class SigningKeyError extends CodedError<SigningKeyErrorCode> {}

export const isSigningKeyError = (err: unknown): err is SigningKeyError => err instanceof SigningKeyError;

export interface SigningKeys {
  algorithm: JwtAlgorithm;
  signKey: KeyObject;
  verifyKey: KeyObject;
  /** Where the key came from: configuration, or the data folder (generated now or on an earlier start). */
  source: 'configured' | 'data-folder';
  /** Set when this start created the key file. */
  generatedFile?: string;
}

export const MIN_SECRET_BYTES = 32;
const MIN_DISTINCT_CHARACTERS = 8;
export const HS256_KEY_FILE = 'jwt-signing-key';
export const ES256_KEY_FILE = 'jwt-es256-private-key.pem';

/**
 * A configured HS256 secret must be long and not obviously patterned: 32 bytes at least
 * (RFC 7518 §3.2 asks for a key as long as the hash) and 8 distinct characters, which turns
 * away "aaaa…" and repeated words while any random hex or base64 secret passes.
 */
export function checkSecretStrength(secret: string): void {
  if (Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new SigningKeyError(
      'weak_jwt_secret',
      `COCKPIT_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    throw new SigningKeyError('weak_jwt_secret', 'COCKPIT_JWT_SECRET is too repetitive: use a random secret');
  }
}

/**
 * The key pair that signs and verifies access tokens. Configured material wins; without any, the
 * first start generates a strong key into the data folder (mode 0600) and later starts reuse it,
 * so tokens survive a restart. Synchronous: it runs once at start, before the server listens.
 */
export function loadSigningKeys(auth: AuthConfig, dataDir: string): SigningKeys {
  if (auth.jwtAlgorithm === 'HS256') {
    if (auth.jwtSecret !== undefined) {
      checkSecretStrength(auth.jwtSecret);
      const key = createSecretKey(Buffer.from(auth.jwtSecret, 'utf8'));
      return { algorithm: 'HS256', signKey: key, verifyKey: key, source: 'configured' };
    }
    const { content, created } = readOrCreate(dataDir, HS256_KEY_FILE, () =>
      randomBytes(64).toString('base64url'),
    );
    const bytes = Buffer.from(content.trim(), 'base64url');
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new SigningKeyError(
        'weak_jwt_secret',
        `${join(dataDir, HS256_KEY_FILE)} holds a key shorter than ${MIN_SECRET_BYTES} bytes`,
      );
    }
    const key = createSecretKey(bytes);
    return { algorithm: 'HS256', signKey: key, verifyKey: key, source: 'data-folder', ...generated(created) };
  }

  if (auth.jwtPrivateKeyFile !== undefined) {
    const signKey = parsePrivateKey(readFileSync(auth.jwtPrivateKeyFile, 'utf8'), auth.jwtPrivateKeyFile);
    const verifyKey =
      auth.jwtPublicKeyFile !== undefined
        ? parsePublicKey(readFileSync(auth.jwtPublicKeyFile, 'utf8'), auth.jwtPublicKeyFile)
        : createPublicKey(signKey);
    if (!verifyKey.equals(createPublicKey(signKey))) {
      throw new SigningKeyError('bad_jwt_key', 'COCKPIT_JWT_PUBLIC_KEY_FILE does not match the private key');
    }
    return { algorithm: 'ES256', signKey, verifyKey, source: 'configured' };
  }
  const { content, created } = readOrCreate(dataDir, ES256_KEY_FILE, () =>
    generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  );
  const signKey = parsePrivateKey(content, join(dataDir, ES256_KEY_FILE));
  return {
    algorithm: 'ES256',
    signKey,
    verifyKey: createPublicKey(signKey),
    source: 'data-folder',
    ...generated(created),
  };
}

const generated = (file: string | undefined) => (file === undefined ? {} : { generatedFile: file });

function readOrCreate(
  dataDir: string,
  name: string,
  make: () => string,
): { content: string; created?: string } {
  const file = join(dataDir, name);
  try {
    return { content: readFileSync(file, 'utf8') };
  } catch (err) {
    if (!isNodeError(err, 'ENOENT')) throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': if another process sharing the data folder won the race, use its key instead of ours.
    writeFileSync(file, `${make()}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(file, 0o600);
    return { content: readFileSync(file, 'utf8'), created: file };
  } catch (err) {
    if (!isNodeError(err, 'EEXIST')) throw err;
    return { content: readFileSync(file, 'utf8') };
  }
}

const parsePrivateKey = (pem: string, where: string): KeyObject => parseKey(pem, where, 'private');
const parsePublicKey = (pem: string, where: string): KeyObject => parseKey(pem, where, 'public');

function parseKey(pem: string, where: string, kind: 'private' | 'public'): KeyObject {
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new SigningKeyError('bad_jwt_key', `${where} is not a PEM ${kind} key`, { cause: err });
  }
  assertP256(key, where);
  return key;
}

function assertP256(key: KeyObject, where: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SigningKeyError('bad_jwt_key', `${where}: ES256 needs an EC P-256 key`);
  }
}

const isNodeError = (err: unknown, code: string): boolean =>
  err instanceof Error && (err as NodeJS.ErrnoException).code === code;
