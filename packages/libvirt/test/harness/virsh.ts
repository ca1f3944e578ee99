import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Error of a failed `virsh` run, with its exit code and stderr. */
export class VirshError extends Error {
  readonly code = 'VIRSH_FAILED';
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`virsh ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim()}`, options);
    this.name = 'VirshError';
  }
}

export function isVirshError(err: unknown): err is VirshError {
  return err instanceof VirshError;
}

/** Runs `virsh -c uri ...args` (libvirt's own C client: an independent witness in tests). */
export async function virsh(uri: string, ...args: string[]): Promise<string> {
  const argv = ['-q', '-c', uri, ...args];
  try {
    const { stdout } = await execFileAsync('virsh', argv, { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const failure = err as { code?: unknown; stderr?: unknown };
    throw new VirshError(
      argv,
      typeof failure.code === 'number' ? failure.code : null,
      typeof failure.stderr === 'string' ? failure.stderr : '',
      { cause: err },
    );
  }
}

/** `virsh dominfo` as a record ("State" → "running", "Persistent" → "yes", …). */
export async function virshDominfo(uri: string, domain: string): Promise<Record<string, string>> {
  const out = await virsh(uri, 'dominfo', domain);
  const info: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) info[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return info;
}

/** Names of all domains (running or defined) that `virsh list --all --name` reports. */
export async function virshListAll(uri: string): Promise<string[]> {
  const out = await virsh(uri, 'list', '--all', '--name');
  return out
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
