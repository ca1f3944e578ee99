// pnpm bench:api — requests/s of an authenticated GET /api/v1/hosts next to a bare Hono hello app served
// the same way (@hono/node-server), in the same run; their ratio is what auth, validation, logging and the
// database read cost per request. Also login latency (argon2id dominates).
//
// The servers run in a child process so the load generator (autocannon) does not share their event loop.
// Database: TEST_DATABASE_URL (a fresh database on that server, dropped afterwards) or else the embedded
// PGlite in a temporary folder. Knobs: BENCH_DURATION (s per round, default 5), BENCH_ROUNDS (default 3),
// BENCH_CONNECTIONS (default 20), BENCH_LOGINS (default 30).
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Hono } from 'hono';
import { pino } from 'pino';
import { startController } from '../src/controller.ts';
import { connect } from '../src/database/connect.ts';
import { serveHttp } from '../src/http/serve.ts';
import { createLogger } from '../src/log.ts';

const ADMIN_PASSWORD = 'bench-admin-password-1';
const HOSTS = 10;

interface Ready {
  controllerUrl: string;
  helloUrl: string;
  database: string;
}

async function serve(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-bench-'));
  const env: Record<string, string> = {
    COCKPIT_DATA_DIR: dataDir,
    COCKPIT_HTTP_PORT: '0',
    COCKPIT_GRPC_PORT: '0',
    COCKPIT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
  };
  let dropDatabase = async () => {};
  let database = 'embedded PGlite (pool of 1)';
  const server = process.env.TEST_DATABASE_URL;
  if (server) {
    const name = `cockpit_bench_${Date.now()}`;
    const admin = connect(server, { max: 1 });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(server);
    url.pathname = `/${name}`;
    env.COCKPIT_DATABASE_URL = url.toString();
    database = 'PostgreSQL server (pool of 10)';
    dropDatabase = async () => {
      const dropper = connect(server, { max: 1 });
      await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    };
  }
  // Request logs are written as in production, to a sink that does not flood the terminal.
  const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: false }));
  const controller = await startController({ env, log });
  const sql = controller.services.sql;
  for (let i = 1; i <= HOSTS; i++) {
    await sql`INSERT INTO hosts (id, hostname, status, sync_cursor)
              VALUES (${`019e0014-abcd-7057-b326-${String(i).padStart(12, '0')}`}, ${`node-${i}.bench`},
                      'connected', ${1716999900 + i})`;
  }
  const hello = new Hono();
  hello.get('/', (c) => c.json({ hello: 'world' }));
  const helloServer = await serveHttp(hello.fetch, { port: 0, host: '127.0.0.1' });

  process.on('message', (message) => {
    if (message !== 'stop') return;
    void (async () => {
      await helloServer.close(0);
      await controller.close();
      await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    })();
  });
  process.send?.({ controllerUrl: controller.url, helloUrl: helloServer.url, database } satisfies Ready);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

type Result = Awaited<ReturnType<typeof autocannon>>;

async function load(
  url: string,
  headers: Record<string, string>,
  duration: number,
  connections: number,
  warmUp: boolean,
): Promise<Result> {
  if (warmUp) await autocannon({ url, connections, duration: 2, headers }); // JIT, pools, caches
  const r = await autocannon({ url, connections, duration, headers });
  if (r.non2xx > 0 || r.errors > 0)
    throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r;
}

async function drive(): Promise<void> {
  const duration = Number(process.env.BENCH_DURATION ?? 5);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
  const logins = Number(process.env.BENCH_LOGINS ?? 30);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Ready));
      child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
    });

    const times: number[] = [];
    let token = '';
    for (let i = 0; i < logins; i++) {
      const t0 = performance.now();
      token = await login(ready.controllerUrl);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);

    // The targets take turns, round after round, so a burst of load from elsewhere on a shared machine
    // hits all of them alike; each target reports its median round.
    const targets: Array<{ name: string; url: string; headers: Record<string, string> }> = [
      { name: 'bare Hono hello (GET /)', url: ready.helloUrl, headers: {} },
      // The same middleware stack (request id, logs, body limit, error handling) without auth or a
      // query: separates what the HTTP layer costs from what the token check and the database cost.
      { name: 'GET /healthz (app stack, no auth/db)', url: `${ready.controllerUrl}/healthz`, headers: {} },
      {
        name: 'GET /api/v1/hosts (bearer JWT)',
        url: `${ready.controllerUrl}/api/v1/hosts`,
        headers: { authorization: `Bearer ${token}` },
      },
    ];
    const runs = targets.map(() => [] as Result[]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, target] of targets.entries()) {
        runs[i]?.push(await load(target.url, target.headers, duration, connections, round === 0));
      }
    }
    const median = (results: Result[]): Result => {
      const sorted = [...results].sort((a, b) => a.requests.average - b.requests.average);
      return sorted[Math.floor(sorted.length / 2)] as Result;
    };
    const [hello, healthz, hosts] = runs.map(median) as [Result, Result, Result];
    const perRound = (i: number) =>
      (runs[i] ?? []).map((r, round) => r.requests.average / (runs[0]?.[round]?.requests.average ?? 1));
    const range = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;

    const row = (name: string, r: Result) =>
      `${name.padEnd(38)} ${r.requests.average.toFixed(0).padStart(8)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms`;
    const lines = [
      '',
      `cockpit bench:api — ${new Date().toISOString()}`,
      `node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), database: ${ready.database}`,
      `${connections} connections, ${rounds} rounds of ${duration} s per target (2 s warm-up first); ${HOSTS} hosts in the list`,
      '',
      ...targets.map((t, i) => row(t.name, [hello, healthz, hosts][i] as Result)),
      `ratio hosts / hello: ${(hosts.requests.average / hello.requests.average).toFixed(3)} (rounds: ${range(perRound(2))})`,
      `ratio healthz / hello: ${(healthz.requests.average / hello.requests.average).toFixed(3)} (rounds: ${range(perRound(1))})`,
      '',
      `login (POST /api/v1/auth/login, ${logins} sequential): p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } finally {
    child.send('stop');
    await exited;
  }
}

if (process.argv.includes('--serve')) {
  await serve();
} else {
  await drive();
}
