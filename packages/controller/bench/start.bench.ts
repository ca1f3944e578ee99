// pnpm bench:start — how long the controller takes to start and to stop, run as production runs it
// (the compiled dist/main.js, what `pnpm start` runs) next to the TypeScript sources through tsx's
// loader (what `pnpm start` ran before, and what `pnpm dev` runs), alternating in the same run.
//
// Start: from spawn to the "controller listening" line. Stop: from SIGTERM to the exit. Each start
// reuses one data folder and one database, so after the first round no start migrates or creates the
// admin. Database: TEST_DATABASE_URL (a fresh database on that server, dropped afterwards) or else
// the embedded PGlite. Knob: BENCH_ROUNDS (default 10 starts of each).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/database/connect.ts';

const packageDir = join(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);

const VARIANTS = {
  'dist/main.js (compiled)': ['--enable-source-maps', 'dist/main.js'],
  'tsx src/main.ts': ['--import', 'tsx', 'src/main.ts'],
} as const;
type Variant = keyof typeof VARIANTS;

interface Timing {
  startMs: number;
  stopMs: number;
}

async function startAndStop(args: readonly string[], env: Record<string, string>): Promise<Timing> {
  const began = performance.now();
  const child = spawn(process.execPath, [...args], {
    cwd: packageDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('controller listening')) resolve(performance.now());
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    void exited.then((code) =>
      reject(new Error(`the controller exited ${code} before listening:\n${output}`)),
    );
  });
  const ready = await listening;
  const stopping = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the controller exited ${code} after SIGTERM:\n${output}`);
  return { startMs: ready - began, stopMs: performance.now() - stopping };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(packageDir, '../../scripts/build.mjs'), '--if-stale'], {
    stdio: 'inherit',
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-bench-start-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    COCKPIT_DATA_DIR: dataDir,
    COCKPIT_HTTP_PORT: '0',
    COCKPIT_GRPC_PORT: '0',
    COCKPIT_ADMIN_PASSWORD: 'bench-admin-password-1',
    COCKPIT_JWT_SECRET: randomBytes(32).toString('hex'),
  };
  let database = 'embedded PGlite';
  let dropDatabase = async () => {};
  const server = process.env.TEST_DATABASE_URL;
  if (server) {
    const name = `cockpit_bench_start_${Date.now()}`;
    const admin = connect(server, { max: 1 });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(server);
    url.pathname = `/${name}`;
    env.COCKPIT_DATABASE_URL = url.toString();
    database = `PostgreSQL (${url.host})`;
    dropDatabase = async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    };
  }
  try {
    // One unmeasured start: it migrates and creates the admin.
    await startAndStop(VARIANTS['dist/main.js (compiled)'], env);
    const timings: Record<Variant, Timing[]> = { 'dist/main.js (compiled)': [], 'tsx src/main.ts': [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of Object.keys(VARIANTS) as Variant[]) {
        timings[variant].push(await startAndStop(VARIANTS[variant], env));
      }
    }
    const compiled = timings['dist/main.js (compiled)'];
    const tsx = timings['tsx src/main.ts'];
    console.log(`controller start and stop, ${ROUNDS} rounds each, alternating; database: ${database}`);
    console.log('| run as                  | start (median) | start (max) | stop after SIGTERM (median) |');
    console.log('| ----------------------- | -------------: | ----------: | --------------------------: |');
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const t = timings[variant];
      const starts = t.map((x) => x.startMs);
      console.log(
        `| ${variant.padEnd(23)} | ${`${median(starts).toFixed(0)} ms`.padStart(14)} | ${`${Math.max(...starts).toFixed(0)} ms`.padStart(11)} | ${`${median(t.map((x) => x.stopMs)).toFixed(0)} ms`.padStart(27)} |`,
      );
    }
    const ratio = median(compiled.map((x) => x.startMs)) / median(tsx.map((x) => x.startMs));
    console.log(`start time, compiled ÷ tsx: ${ratio.toFixed(2)}×`);
  } finally {
    await dropDatabase();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
