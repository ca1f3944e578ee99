import { type Algorithm, hash, verify } from '@node-rs/argon2';

// OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
// `Algorithm` is an ambient const enum, which isolatedModules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;
export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_LENGTH = 12;
// Long enough for any passphrase, short enough that hashing one is not a denial of service.
export const PASSWORD_MAX_LENGTH = 1024;

export const hashPassword = (password: string): Promise<string> => hash(password, ARGON2_OPTIONS);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash never matches; it must not turn a login into a 500.
    return false;
  }
}

/**
 * Spends the same argon2 work as a real check, for logins naming an unknown or disabled user, so
 * response time does not reveal which usernames exist.
 */
export function createDummyVerifier(): (password: string) => Promise<void> {
  let dummy: Promise<string> | undefined;
  return async (password) => {
    // Stryker disable next-line StringLiteral: any password makes an equally costly hash
    dummy ??= hashPassword('cockpit-dummy-password-for-timing');
    await verifyPassword(await dummy, password);
  };
}
