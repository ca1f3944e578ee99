import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LatencySummary } from './latency-summary.ts';

// Runs libvirt_baseline.py with Debian's python3-libvirt (libvirt's C client library). It must be
// /usr/bin/python3: a pyenv python on PATH has no libvirt module.

const execFileAsync = promisify(execFile);
const script = fileURLToPath(new URL('./libvirt_baseline.py', import.meta.url));

async function runBaseline(args: string[]): Promise<unknown> {
  const { stdout } = await execFileAsync('/usr/bin/python3', [script, ...args], { timeout: 600_000 });
  return JSON.parse(stdout);
}

export interface PythonThroughput {
  client: string;
  ops: number;
  seconds: number;
  /** The python process's CPU time over the timed part (all threads, user + system). */
  cpuSeconds: number;
  /** libvirtd's CPU time over the same part. */
  daemonCpuSeconds: number;
}

/**
 * lookup + info + state, `ops` times, over one connection shared by `threads` threads; the CPU time
 * of the script and of the daemon `daemonPid` over the timed part.
 */
export async function pythonThroughput(
  uri: string,
  uuids: string[],
  ops: number,
  threads: number,
  warmupOps: number,
  daemonPid: number,
): Promise<PythonThroughput> {
  return (await runBaseline([
    ...['--uri', uri, '--uuids', uuids.join(','), '--ops', String(ops)],
    ...['--threads', String(threads), '--warmup', String(warmupOps), '--daemon-pid', String(daemonPid)],
  ])) as PythonThroughput;
}

/**
 * The same workload from one long-lived python process and connection (libvirt_baseline.py
 * --serve): resolves once its 2000-operation warm-up is over; each `run` is one timed part on that
 * connection.
 */
export async function pythonServer(uri: string, uuids: string[], daemonPid: number) {
  const args = ['--serve', '--uri', uri, '--uuids', uuids.join(','), '--warmup', '2000'];
  const child = spawn('/usr/bin/python3', [script, ...args, '--daemon-pid', String(daemonPid)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ready = await lines.next();
  if (ready.done) throw new Error('libvirt_baseline.py --serve ended before its warm-up was over');
  return {
    async run(threads: number, ops: number): Promise<PythonThroughput> {
      child.stdin.write(`${threads} ${ops}\n`);
      return JSON.parse((await lines.next()).value as string) as PythonThroughput;
    },
    close: () => child.stdin.end(),
  };
}

/** Suspend/resume rounds of the running guest `uuid`: call start → lifecycle callback, and reply. */
export async function pythonEventLatency(
  uri: string,
  uuid: string,
  rounds: number,
): Promise<{ toEvent: LatencySummary; roundTrip: LatencySummary }> {
  return (await runBaseline(['--uri', uri, '--events', String(rounds), '--event-uuid', uuid])) as {
    toEvent: LatencySummary;
    roundTrip: LatencySummary;
  };
}
