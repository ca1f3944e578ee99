import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `cockpit-agent` command, run as users run it. */
const bin = fileURLToPath(new URL('../../bin/cockpit-agent.mjs', import.meta.url));

/** The `cockpit-agent` command as a child process, with its output kept for assertions. */
export class AgentProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly stateDir: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts `cockpit-agent` with these flags (`--state-dir` is taken from them) and environment. */
  static start(args: string[], env: Record<string, string> = {}): AgentProcess {
    const child = spawn(process.execPath, [bin, ...args], {
      // /metrics on any free port: agents of parallel suites never compete for the default one.
      env: { PATH: process.env.PATH ?? '', COCKPIT_AGENT_METRICS_LISTEN: '127.0.0.1:0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const at = args.indexOf('--state-dir');
    return new AgentProcess(child, at < 0 ? '' : (args[at + 1] ?? ''));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Log lines (JSON) with this message. */
  logged(msg: string): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === msg);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** Ids of the commands this process ran (its `running command` log lines). */
  ranCommandIds(): string[] {
    return this.logged('running command').map((l) => String(l.commandId));
  }
}
