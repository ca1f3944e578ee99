import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const packageDir = join(import.meta.dirname, '../..');
/** USER_HZ: the unit of /proc's CPU times (100 on Linux's every mainstream architecture). */
const CLOCK_TICKS = 100;

/** A port free right now on 127.0.0.1 (restarts reuse it, so agents and clients keep their address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * CPU time (user + system, s) from /proc/<pid>/stat: the process's own (utime, stime), or that of its
 * children it has waited for (cutime, cstime). `pid` may be `self`.
 */
export function procCpuSeconds(pid: string, whose: 'own' | 'reapedChildren'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15,
  // cutime 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const first = whose === 'own' ? 11 : 13;
  return (Number(fields[first]) + Number(fields[first + 1])) / CLOCK_TICKS;
}

/** The text of a file from byte `from` on. */
function linesSince(file: string, from: number): string {
  const fd = openSync(file, 'r');
  try {
    const text = Buffer.alloc(Math.max(0, fstatSync(fd).size - from));
    readSync(fd, text, 0, text.length, from);
    return text.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The controller as production runs it (dist/main.js), its log lines going to a file. */
export class ControllerProcess {
  /** Highest resident set size seen by `sampleRss`, in bytes. */
  maxRss = 0;
  private readonly sampler: NodeJS.Timeout;

  private constructor(
    readonly child: ChildProcess,
    readonly spawnedAt: number,
    readonly listeningAt: number,
  ) {
    this.sampler = setInterval(() => this.sampleRss(), 100);
  }

  static async start(env: Record<string, string>, logFile: string): Promise<ControllerProcess> {
    const spawnedAt = performance.now();
    const log = openSync(logFile, 'a');
    // Where this process's lines will start: taken before it can write any. (Reading the whole file
    // after the spawn raced with it: after a list phase the file holds ~80 MB of request lines, and the
    // read took longer than the new controller needed to say it listens, so the bench waited forever.)
    const from = fstatSync(log).size;
    // Flags NODE_OPTIONS refuses (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof) go on the command line.
    const nodeArgs = (process.env.BENCH_CONTROLLER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, '--enable-source-maps', 'dist/main.js'], {
      cwd: packageDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    for (;;) {
      if (linesSince(logFile, from).includes('controller listening')) break;
      if (exited !== undefined) throw new Error(`the controller exited ${exited}: see ${logFile}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return new ControllerProcess(child, spawnedAt, performance.now());
  }

  /** Reads VmRSS from /proc. */
  sampleRss(): number {
    try {
      const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1]);
      if (Number.isFinite(kib)) this.maxRss = Math.max(this.maxRss, kib * 1024);
      return kib * 1024;
    } catch {
      return 0;
    }
  }

  /**
   * CPU time the controller has used so far (user + system, s), from /proc/<pid>/stat. CPU per request
   * or per change moves far less with the machine's load than rates and latencies do.
   */
  cpuSeconds(): number {
    return procCpuSeconds(String(this.child.pid), 'own');
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    clearInterval(this.sampler);
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    return exited;
  }
}
