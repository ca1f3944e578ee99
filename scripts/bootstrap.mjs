#!/usr/bin/env node
// The README's two commands land here (`npx pnpm@12.4.2 start` / `... test`), so that each works on
// a fresh clone where only Node.js 20 is present: it installs what is missing, then runs the real thing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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

const pnpm = pnpmCommand();
if (mode === 'start') {
  ensureInstalled(pnpm);
  run(pnpm[0], [...pnpm[1], '--filter', '@cockpit/controller', 'start']);
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
