import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The controller package's folder, where `pnpm start` runs dist/main.js. */
export const packageDir = join(import.meta.dirname, '../..');

/** The production build, as `pnpm start` runs it (vitest's globalSetup rebuilt it). */
export const COMPILED_MAIN = [process.execPath, '--enable-source-maps', 'dist/main.js'];

/** `pnpm start` without pnpm: the root's bootstrap script, which builds, then runs dist/main.js. */
export const BOOTSTRAP_START = [process.execPath, join(packageDir, '../../scripts/bootstrap.mjs'), 'start'];

export interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

// Every process a test started; one a failed test left running is killed after it (killRunning).
const running = new Set<ChildProcess>();

/**
 * Runs the controller (or `options.command`) as a process with `env` (and PATH), collecting its output.
 * `umask`: through a shell that sets it. `detached`: in a process group of its own, so a test can send a
 * signal to the whole group, as Ctrl-C at a terminal does.
 */
export function runMain(
  env: Record<string, string>,
  args: string[] = [],
  options: { umask?: string; command?: string[]; detached?: boolean } = {},
): Run {
  const node = [...(options.command ?? COMPILED_MAIN), ...args];
  // With a umask given, through a shell that sets it: the controller must not depend on the caller's.
  const [file = '', ...argv] =
    options.umask === undefined ? node : ['sh', '-c', `umask ${options.umask} && exec "$0" "$@"`, ...node];
  const child = spawn(file, argv, {
    cwd: packageDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited };
}

/** SIGKILL to every process runMain started that still runs (for afterEach). */
export function killRunning(): void {
  for (const child of running) {
    if (child.pid !== undefined) killTree(child.pid);
  }
  running.clear();
}

/** SIGKILL to a process and, first, every descendant it has (the demo agents run in groups of their own). */
export function killTree(pid: number): void {
  for (const child of childrenOf(pid)) killTree(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

/** The process ids of `pid`'s children (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split(' ')
    .filter((s) => s !== '')
    .map(Number);
}

/** A process's command line (Linux /proc), empty once it is gone. */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Whether a process exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
