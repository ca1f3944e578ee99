#!/usr/bin/env node
// The production build: the controller and the agent, each one JavaScript file (dist/main.js).
//
// Why: in production no TypeScript loader runs. tsx's loader hooks run in their own thread on Node 20,
// and controllers started through it were seen hanging after SIGTERM (main thread in a futex wait,
// the hooks thread alive). Tests and development keep running the TypeScript as is (vitest, tsx).
//
// esbuild bundles our own code (the workspace packages are TypeScript sources) and leaves every
// third-party package external: they load from node_modules exactly as under tsx. `pnpm install`
// runs this (the root's postinstall); `pnpm start` and the test suites run it again when a source
// is newer than its output.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What is built: each package's entry point, and the folders its code reads beside itself at run time. */
const TARGETS = [
  {
    name: 'controller',
    dir: 'packages/controller',
    // migrate.ts reads `./migrations/` next to its own module, which is dist/ once bundled.
    assets: [['src/database/migrations', 'dist/migrations']],
  },
  { name: 'agent', dir: 'packages/agent', assets: [] },
];

/** Our own sources: a change to any of them makes every output stale. */
const SOURCE_DIRS = [
  'packages/controller/src',
  'packages/agent/src',
  'packages/libvirt/src',
  'packages/proto/src',
];

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** When a source or this script last changed: one walk of the source folders per build. */
const newestSource = () =>
  Math.max(
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
    ...SOURCE_DIRS.map((d) => newestMtime(join(root, d))),
  );

/** Whether a target's dist/main.js is missing or older than `newest`. */
function isStale(target, newest) {
  const output = join(root, target.dir, 'dist/main.js');
  return !existsSync(output) || newest > statSync(output).mtimeMs;
}

// Bare imports stay imports, except our workspace packages (TypeScript sources, bundled in).
const thirdPartyExternal = {
  name: 'third-party-external',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@cockpit/') ? undefined : { path: args.path, external: true },
    );
  },
};

async function buildTarget(target) {
  const dir = join(root, target.dir);
  const result = await esbuild.build({
    entryPoints: [join(dir, 'src/main.ts')],
    outfile: join(dir, 'dist/main.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Stack traces name the TypeScript files and lines.
    sourcesContent: false,
    plugins: [thirdPartyExternal],
    logLevel: 'warning',
    write: false,
  });
  // Each file is replaced in one rename: a process starting meanwhile (another suite) reads the old
  // file or the new one, never half of one.
  mkdirSync(join(dir, 'dist'), { recursive: true });
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  for (const [from, to] of target.assets) cpSync(join(dir, from), join(dir, to), { recursive: true });
}

/**
 * Builds every target whose output is stale (all of them with `force`). Returns the names built.
 * @param {{ force?: boolean }} [options]
 */
export async function build(options = {}) {
  const built = [];
  const newest = options.force ? 0 : newestSource();
  for (const target of TARGETS) {
    if (!options.force && !isStale(target, newest)) continue;
    await buildTarget(target);
    built.push(target.name);
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = !process.argv.includes('--if-stale');
  const built = await build({ force });
  if (built.length > 0) console.log(`built ${built.map((n) => `packages/${n}/dist/main.js`).join(', ')}`);
}
