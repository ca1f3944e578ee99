#!/usr/bin/env node
// The README's two commands land here (`npx pnpm@12.4.2 start` / `... test`), so that each works on
// a fresh clone where only Node.js 20 is present: it installs what is missing, then runs the real thing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '12.4.2';
const mode = process.argv[2];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function pnpmCommand() {
  try {
    const v = execFileSync('pnpm', ['--version'], { encoding: 'utf8' }).trim();
    if (v === PNPM_VERSION) return ['pnpm', []];
  } catch {}
  return ['npx', ['-y', `pnpm@${PNPM_VERSION}`]];
}

function ensureInstalled(pnpm) {
  const marker = join(root, 'node_modules/.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  run(pnpm[0], [...pnpm[1], 'install', '--frozen-lockfile']);
}

// The controller runs as this process's child, not through a nested `pnpm --filter … start`: its
// exit status is ours (2 for a bad configuration), and Ctrl-C ends it with its own lines only. It runs
// compiled (dist/main.js, rebuilt first when a source changed): no TypeScript loader in production.
async function runController(args) {
  const { build } = await import('./build.mjs');
  await build();
  // A relative COCKPIT_DATA_DIR is relative to where the user typed the command.
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: pnpm sets it for this script; no turbo task reads it
  const env = { ...process.env, INIT_CWD: process.env.INIT_CWD ?? process.cwd() };
  // The first command is a demo: on the embedded database, two simulated agents report to the
  // controller unless COCKPIT_DEMO_AGENTS says otherwise (0 for real deployments).
  if ((env.COCKPIT_DEMO_AGENTS ?? '') === '' && (env.COCKPIT_DATABASE_URL ?? '') === '') {
    env.COCKPIT_DEMO_AGENTS = '2';
  }
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js', ...args], {
    cwd: join(root, 'packages/controller'),
    stdio: 'inherit',
    env,
  });
  // Ctrl-C reaches the whole process group, the controller included: not forwarded (a second
  // SIGINT would make it exit at once). A SIGTERM or SIGHUP sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) =>
    process.exit(code ?? (signal === null ? 1 : 128 + constants.signals[signal])),
  );
}

const pnpm = pnpmCommand();
if (mode === 'start') {
  ensureInstalled(pnpm);
  await runController(process.argv.slice(3));
} else if (mode === 'test') {
  // Debian packages (libvirt, QEMU, PostgreSQL) for the real-daemon suites; a no-op when present.
  run('bash', [join(root, 'scripts/ensure-test-deps.sh')]);
  ensureInstalled(pnpm);
  const env = { ...process.env };
  env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  run(pnpm[0], [...pnpm[1], 'run', 'test:all'], { env });
} else {
  console.error('usage: bootstrap.mjs start|test');
  process.exit(2);
}
