// Where the two vCPUs' time goes while python's 16 threads, and ours at 16 and 4 calls in flight, run
// the bench's workload against one harness libvirtd: `perf sched record` of a 0.5 s window in the middle
// of each run, then per run the CPU time of the client, of libvirtd's main loop and of its workers in
// that window, the daemon's CPU per operation, and the vCPU time no task ran (the window times the vCPUs,
// less what ran). See docs/benchmarks.md "Python's two speeds". Root and `perf`; in packages/libvirt:
// `nice -n -15 npx tsx bench/sched-probe.ts`.
//   PROBE_OPS (20000: long enough that the window falls inside the run), PROBE_ROUNDS (4)

import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { runOurs } from './our-throughput.ts';
import { withProbeSetup } from './probe-setup.ts';

const execFileAsync = promisify(execFile);
const OPS = Number(process.env.PROBE_OPS ?? 20000);
const ROUNDS = Number(process.env.PROBE_ROUNDS ?? 4);
const WINDOW_S = 0.5;
const VARIANTS = ['py:16', 'ours:16', 'ours:4'] as const;

/** CPU milliseconds per group of threads in one recording (`perf sched timehist -s`). */
async function timeByGroup(file: string): Promise<{ groups: Map<string, number>; total: number }> {
  const { stdout } = await execFileAsync('perf', ['sched', 'timehist', '-s', '-i', file], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const groups = new Map<string, number>();
  let total = 0;
  for (const line of stdout.slice(stdout.indexOf('Runtime summary')).split('\n')) {
    const m = /^\s*(\S+?)\[(\d+)(?:\/\d+)?\]\s+\d+\s+\d+\s+([\d.]+)/.exec(line);
    if (m) {
      const [, comm = '', , ms = '0'] = m;
      // libvirtd's main loop keeps the process's name; its workers are rpc-… and prio-rpc-….
      const group = comm === 'libvirtd' ? 'main loop' : /rpc-/.test(comm) ? 'workers' : comm;
      groups.set(group, (groups.get(group) ?? 0) + Number(ms));
    }
    const t = /Total run time \(msec\):\s+([\d.]+)/.exec(line);
    if (t) total = Number(t[1]);
  }
  return { groups, total };
}

await withProbeSetup('sched', async ({ daemon, daemonPriority, conn, uuids, python }) => {
  console.log(`libvirtd ${daemon} at ${daemonPriority}, ${OPS} operations per run, ${WINDOW_S} s window`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) {
      const [kind, n] = variant.split(':') as [string, string];
      const file = `/tmp/sched-probe-${round}-${kind}${n}.data`;
      const timed =
        kind === 'py'
          ? python.run(Number(n), OPS).then((r) => r.seconds)
          : runOurs(conn, uuids, OPS, Number(n), daemon).then((r) => r.seconds);
      // The window opens once the run is under way and closes well before its end.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const record = ['sched', 'record', '-a', '-o', file, '--', 'sleep', String(WINDOW_S)];
      const recording = execFileAsync('perf', record);
      const rate = OPS / (await timed);
      await recording;
      const { groups, total } = await timeByGroup(file);
      await rm(file);
      const client = (groups.get(kind === 'py' ? 'python3' : 'node') ?? 0).toFixed(0);
      const main = groups.get('main loop') ?? 0;
      const workers = groups.get('workers') ?? 0;
      const daemonUsPerOp = ((main + workers) * 1000) / (rate * WINDOW_S);
      const idle = Math.max(0, availableParallelism() * WINDOW_S * 1000 - total);
      console.log(
        `round ${round} ${variant.padEnd(7)} ${rate.toFixed(0).padStart(6)} ops/s | window ms: client ${client}, ` +
          `main loop ${main.toFixed(0)}, workers ${workers.toFixed(0)}, no task ${idle.toFixed(0)} | ` +
          `daemon ${daemonUsPerOp.toFixed(0)} µs/op`,
      );
    }
  }
});
