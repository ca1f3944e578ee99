import { readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.ts';
import type { StateFiles } from './state-dir.ts';

/** What Join gave this host: its id and the credential it connects with. */
export interface HostCredential {
  hostId: string;
  credential: string;
}

/** The credential file exists but is not what the agent writes. */
export class CredentialFileError extends Error {
  override readonly name = 'CredentialFileError';
  readonly code = 'credential_file_invalid';
}
export const isCredentialFileError = (err: unknown): err is CredentialFileError =>
  err instanceof CredentialFileError;

export async function loadCredential(files: StateFiles): Promise<HostCredential | undefined> {
  let text: string;
  try {
    text = await readFile(files.credential, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { host_id, credential } = JSON.parse(text) as { host_id?: unknown; credential?: unknown };
    if (typeof host_id === 'string' && typeof credential === 'string' && credential !== '') {
      return { hostId: host_id, credential };
    }
  } catch {
    // reported below
  }
  throw new CredentialFileError(
    `${files.credential} holds no credential; remove it and join again with a new --join-token`,
  );
}

/** Keeps the credential (0600, written atomically): a crash never leaves half a credential. */
export async function saveCredential(files: StateFiles, credential: HostCredential): Promise<void> {
  const text = JSON.stringify({ host_id: credential.hostId, credential: credential.credential }, null, 2);
  await writeFileAtomic(files.credential, `${text}\n`, 0o600);
}

/**
 * The controller revoked the credential: it moves aside (kept for the operator to see), so the next
 * start asks for a new join token instead of knocking with a dead credential.
 */
export async function retireCredential(files: StateFiles): Promise<void> {
  try {
    await rename(files.credential, files.revokedCredential);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
