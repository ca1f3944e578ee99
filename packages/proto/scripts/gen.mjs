#!/usr/bin/env node
// `pnpm gen`: lints proto/ with buf and rewrites src/gen with ts-proto.
// `pnpm check` (part of the test command): lints, checks for breaking changes against main, and fails when
// the committed src/gen differs from what the generator writes now (drift).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(pkg, '../../proto');
const buf = join(pkg, 'node_modules/.bin/buf');
const check = process.argv.includes('--check');

function run(args, what) {
  const r = spawnSync(buf, args, { cwd: pkg, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`proto: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else out.push(path);
  }
  return out;
}

run(['lint', protoDir], 'buf lint');

if (!check) {
  rmSync(join(pkg, 'src/gen'), { recursive: true, force: true });
  run(['generate', protoDir, '--output', pkg], 'buf generate');
  console.log('proto: src/gen rewritten');
  process.exit(0);
}

// Breaking changes against main's proto/ (what agents already deployed speak). Skipped with a notice only
// when this checkout has no main branch to compare with (a shallow CI clone of a detached commit).
const repo = join(pkg, '../..');
const hasMain =
  spawnSync('git', ['rev-parse', '--verify', '--quiet', 'refs/heads/main'], { cwd: repo }).status === 0;
const mainHasProto =
  hasMain && spawnSync('git', ['cat-file', '-e', 'main:proto/buf.yaml'], { cwd: repo }).status === 0;
if (mainHasProto) {
  run(
    ['breaking', protoDir, '--against', `${relative(pkg, repo) || '.'}/.git#branch=main,subdir=proto`],
    'buf breaking',
  );
} else {
  console.log('proto: no main branch with proto/ to compare against; breaking-change check not run');
}

const scratch = mkdtempSync(join(tmpdir(), 'cockpit-proto-'));
try {
  run(['generate', protoDir, '--output', scratch], 'buf generate');
  const committed = join(pkg, 'src/gen');
  const fresh = join(scratch, 'src/gen');
  const list = (root) =>
    files(root)
      .map((f) => relative(root, f))
      .sort();
  const a = list(committed);
  const b = list(fresh);
  const drift = [
    ...a.filter((f) => !b.includes(f)).map((f) => `${f}: committed but no longer generated`),
    ...b.filter((f) => !a.includes(f)).map((f) => `${f}: generated but not committed`),
    ...a
      .filter((f) => b.includes(f))
      .filter((f) => readFileSync(join(committed, f), 'utf8') !== readFileSync(join(fresh, f), 'utf8'))
      .map((f) => `${f}: differs from the generator's output`),
  ];
  if (drift.length > 0) {
    console.error(
      `proto: packages/proto/src/gen is out of date (run \`pnpm gen\`):\n  ${drift.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log('proto: lint clean, no breaking change, src/gen matches the generator');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
