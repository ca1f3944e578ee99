import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LibvirtHost, virsh, waitFor } from './harness.ts';

const execFileAsync = promisify(execFile);

const pidOf = async (host: LibvirtHost, daemon: string): Promise<number> =>
  Number((await readFile(join(host.stateDir, 'run', `${daemon}.pid`), 'utf8')).trim());

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops a harness host's libvirtd (its guests keep running, as under systemd), runs `between` while it is
 * down, then starts it again in the host's namespaces (entered through its virtlogd, which stays up).
 * SIGKILL is a crash: a libvirtd receiving a migration does not stop on SIGTERM until the job ends.
 */
export async function restartLibvirtd(
  host: LibvirtHost,
  between: () => Promise<void> = async () => {},
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  const pid = await pidOf(host, 'libvirtd');
  process.kill(pid, signal);
  await waitFor(() => (alive(pid) ? undefined : true), {
    timeoutMs: 30_000,
    what: `libvirtd ${pid} to exit`,
  });
  await between();
  const virtlogd = await pidOf(host, 'virtlogd');
  await execFileAsync('nsenter', [
    '--target',
    String(virtlogd),
    '--mount',
    '--uts',
    '--',
    'libvirtd',
    '-d',
    '--listen',
  ]);
  await waitFor(
    async () =>
      virsh(host.uri, 'version').then(
        () => true,
        () => undefined,
      ),
    { timeoutMs: 60_000, what: 'libvirtd to answer again' },
  );
}
