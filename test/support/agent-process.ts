import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `cockpit-agent` command of packages/agent, run as users run it. */
const BIN = fileURLToPath(new URL('../../packages/agent/bin/cockpit-agent.mjs', import.meta.url));

/** One `cockpit-agent` process, with its JSON log lines kept for assertions. */
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

  /** Starts `cockpit-agent` with these flags (`--state-dir` is taken from them). */
  static start(args: string[]): AgentProcess {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stateDir = args[args.indexOf('--state-dir') + 1] ?? '';
    return new AgentProcess(child, stateDir);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

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
