import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The files the agent keeps in its state folder. */
export const stateFiles = (dir: string) => ({
  /** `{host_id, credential}` from Join (0600). */
  credential: join(dir, 'credential.json'),
  /** A credential the controller revoked, kept for the operator to see (0600). */
  revokedCredential: join(dir, 'credential.revoked.json'),
  /** The upper bound of every journal cursor ever handed out. */
  cursor: join(dir, 'cursor.json'),
  /** Commands accepted and their outcomes, one JSON line each (at-most-once execution). */
  commands: join(dir, 'commands.jsonl'),
  /** The controller's CA certificate, saved after it matched --ca-sha256. */
  controllerCa: join(dir, 'controller-ca.pem'),
});

export type StateFiles = ReturnType<typeof stateFiles>;

/**
 * Creates the state folder (0700: it holds the host's credential) or tightens an existing one that
 * others could read.
 */
export async function ensureStateDir(dir: string): Promise<StateFiles> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
  return stateFiles(dir);
}
