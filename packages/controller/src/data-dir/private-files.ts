import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The data folder holds the database (password hashes, credentials), signing keys and the CA key:
 * nobody but the controller's user may read it. Files the controller creates get 0600 through the
 * process umask (0077, set by main); this pass fixes what was created otherwise (PGlite's first files
 * come out 0666, and a data folder from an older version): directories 0700, files 0600. Files
 * PGlite creates later pass through 0700 (emscripten creates 0777 under the umask, then applies
 * the 0600 PostgreSQL asked for). Symbolic
 * links are left alone (chmod would follow them out of the folder).
 */
export function makePrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if ((stat.mode & 0o777) !== 0o600) {
      chmodSync(path, 0o600);
    }
  };
  walk(dir);
}

/** The process-wide umask under which new files are 0600 and new folders 0700. */
export const PRIVATE_UMASK = 0o077;
