import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const packageDir = join(import.meta.dirname, '../..');

/** support/visibility-probe.ts in a process of its own: when a VM's new memory value shows through REST. */
export class VisibilityProber {
  private readonly waiting: Array<(seenAt: number) => void> = [];

  private constructor(private readonly child: ReturnType<typeof spawn>) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.waiting.shift()?.((JSON.parse(line) as { seenAt: number }).seenAt);
    });
  }

  static start(api: string, authorization: string): VisibilityProber {
    const script = join(packageDir, 'bench/support/visibility-probe.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, api, authorization], {
      cwd: packageDir,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) throw new Error(`the visibility prober exited ${code}`);
    });
    return new VisibilityProber(child);
  }

  /** The wall-clock ms at which the VM's memory read `memory` through REST. */
  seen(id: string, memory: number, sentAt: number): Promise<number> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin?.write(`${JSON.stringify({ id, memory, sentAt })}\n`);
    });
  }

  close(): void {
    this.child.stdin?.end();
  }
}
