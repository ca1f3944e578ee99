import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Vm } from '@cockpit/proto';
import type { ControllerTarget } from '../../test/support/scripted-agent.ts';

const packageDir = join(import.meta.dirname, '../..');

/** A probe's two times, from sending the change: visible through REST, and acknowledged (committed). */
export interface ProbeTimes {
  visibleMs: number;
  ackMs: number;
}

/**
 * support/visibility-probe.ts in a process of its own, holding the probe hosts' agents: each probe
 * changes one VM of one of them and times it until REST shows it.
 */
export class VisibilityProber {
  private readonly waiting: Array<(message: Record<string, unknown>) => void> = [];
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ReturnType<typeof spawn>) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>);
    });
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    void this.exited.then((code) => {
      if (code !== 0 && code !== null) throw new Error(`the visibility prober exited ${code}`);
    });
  }

  /** Starts the process and connects the hosts' agents (their streams must be free: close ours first). */
  static async start(
    api: string,
    authorization: string,
    target: ControllerTarget,
    hosts: ReadonlyArray<{ hostname: string; credential: string; vm: Vm }>,
  ): Promise<VisibilityProber> {
    const script = join(packageDir, 'bench/support/visibility-probe.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, api, authorization], {
      cwd: packageDir,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const prober = new VisibilityProber(child);
    await prober.send({ target, hosts });
    return prober;
  }

  /** Sets the memory of host `host`'s probe VM to `memory`; resolves when REST showed it. */
  async probe(host: number, memory: number): Promise<ProbeTimes> {
    return (await this.send({ host, memory })) as unknown as ProbeTimes;
  }

  /** Closes the agents' streams; resolves once the process is gone. */
  async close(): Promise<void> {
    this.child.stdin?.end();
    await this.exited;
  }

  private send(message: object): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin?.write(`${JSON.stringify(message)}\n`);
    });
  }
}
