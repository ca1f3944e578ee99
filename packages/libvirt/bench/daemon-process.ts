import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';

// The harness's libvirtd as a process: its CPU time (to count the daemon's work per operation, which
// load from elsewhere on the machine barely changes) and its scheduling priority (so that a bench
// run under `nice` gives the daemon the same priority as the two clients it serves).

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux for every architecture). */
const USER_HZ = 100;

/** The pid of the harness host's libvirtd (`<stateDir>/run/libvirtd.pid`). */
export function daemonPid(stateDir: string): number {
  return Number(readFileSync(join(stateDir, 'run', 'libvirtd.pid'), 'utf8').trim());
}

/**
 * User + system CPU seconds `pid` has used so far, all its threads (living and exited) together.
 * The fields after the command name, whose parentheses may hold spaces: utime and stime are the 12th
 * and 13th of them.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * Gives every thread of `pid` this process's priority (niceness); threads it starts later inherit
 * from theirs. Returns the priority given, or why not (raising priority needs root).
 */
export function shareOurPriority(pid: number): string {
  const priority = getPriority();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), priority);
    return `nice ${priority}`;
  } catch (err) {
    return `its own priority (${err instanceof Error ? err.message : String(err)})`;
  }
}
