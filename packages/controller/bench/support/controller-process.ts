import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const packageDir = join(import.meta.dirname, '../..');

/** A port free right now on 127.0.0.1 (restarts reuse it, so agents and clients keep their address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
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
    const lines = () => readFileSync(logFile, 'utf8');
    const from = lines().length;
    for (;;) {
      if (lines().slice(from).includes('controller listening')) break;
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

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    clearInterval(this.sampler);
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    return exited;
  }
}
