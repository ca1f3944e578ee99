// Where the two vCPUs' time goes while python's 16 threads, and ours at 16 and 4 calls in flight, run
// the bench's workload against one harness libvirtd: `perf sched record` of a 0.5 s window in the middle
// of each run, then per run the CPU time of the client, of libvirtd's main loop and of its workers in
// that window, the daemon's CPU per operation, and the time no task ran. See docs/benchmarks.md
// "Python's two speeds". Root and `perf`; in packages/libvirt: `nice -n -15 npx tsx bench/sched-probe.ts`.
//   PROBE_OPS (20000: long enough that the window falls inside the run), PROBE_ROUNDS (4)

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from '../src/index.ts';
import { startLibvirtHost } from '../test/harness/index.ts';
import { setUpGuests } from './bench-guests.ts';
import { daemonPid, shareOurPriority } from './daemon-process.ts';
import { runOurs } from './our-throughput.ts';
import { pythonServer } from './python-baseline.ts';

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

const host = await startLibvirtHost();
try {
  const daemon = daemonPid(host.stateDir);
  console.log(
    `libvirtd ${daemon} at ${shareOurPriority(daemon)}, ${OPS} operations per run, ${WINDOW_S} s window`,
  );
  const conn = await connect(host.unixUri);
  const { uuids } = await setUpGuests(conn, host, 'sched');
  await runOurs(conn, uuids, 4000, 16, daemon);
  const py = await pythonServer(host.unixUri, uuids, daemon);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of VARIANTS) {
        const [kind, n] = variant.split(':') as [string, string];
        const file = `/tmp/sched-probe-${round}-${kind}${n}.data`;
        const timed =
          kind === 'py'
            ? py.run(Number(n), OPS).then((r) => r.seconds)
            : runOurs(conn, uuids, OPS, Number(n), daemon).then((r) => r.seconds);
        // The window opens once the run is under way and closes well before its end.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const recording = execFileAsync('perf', [
          'sched',
          'record',
          '-a',
          '-o',
          file,
          '--',
          'sleep',
          String(WINDOW_S),
        ]);
        const rate = OPS / (await timed);
        await recording;
        const { groups, total } = await timeByGroup(file);
        const client = (groups.get(kind === 'py' ? 'python3' : 'node') ?? 0).toFixed(0);
        const main = groups.get('main loop') ?? 0;
        const workers = groups.get('workers') ?? 0;
        const daemonUsPerOp = ((main + workers) * 1000) / (rate * WINDOW_S);
        const idle = Math.max(0, 2 * WINDOW_S * 1000 - total);
        console.log(
          `round ${round} ${variant.padEnd(7)} ${rate.toFixed(0).padStart(6)} ops/s | window ms: client ${client}, ` +
            `main loop ${main.toFixed(0)}, workers ${workers.toFixed(0)}, no task ${idle.toFixed(0)} | ` +
            `daemon ${daemonUsPerOp.toFixed(0)} µs/op`,
        );
      }
    }
  } finally {
    py.close();
    await conn.close();
  }
} finally {
  await host.stop();
}
