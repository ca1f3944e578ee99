import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateLibvirtd, startPrivateLibvirtd } from './support/private-libvirtd.ts';

// The README's first code block, run as written (a child process importing '@cockpit/libvirt' by
// its package name) against the test driver of a private libvirtd.

const execFileAsync = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const tsx = `${packageDir}node_modules/.bin/tsx`;
// Inside the package, so that '@cockpit/libvirt' resolves to this package (self-reference); in a
// folder of its own that typecheck and lint leave alone.
const scratch = mkdtempSync(`${packageDir}.tmp-readme-`);
const script = `${scratch}/example.ts`;

let daemon: PrivateLibvirtd;

beforeAll(async () => {
  const readme = readFileSync(`${packageDir}README.md`, 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no ts code block');
  expect(block).toContain("from '@cockpit/libvirt'");
  writeFileSync(script, block);
  daemon = await startPrivateLibvirtd();
}, 30_000);

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await daemon?.stop();
});

async function runExample(domain: string): Promise<string[]> {
  const { stdout } = await execFileAsync(tsx, [script], {
    cwd: packageDir,
    env: { ...process.env, LIBVIRT_URI: daemon.uri('test'), DOMAIN: domain },
    timeout: 30_000,
  });
  return stdout.trim().split('\n');
}

describe("the README's example", () => {
  it('runs against the test driver: hostname, state, a suspended event, resumed again', async () => {
    const [host, ...rest] = await runExample('test');
    expect(host).toMatch(/^host \S+/);
    expect(rest).toEqual(['test suspended']);
  });

  it('takes the no-such-domain branch through the typed predicate', async () => {
    expect((await runExample('no-such-domain')).slice(1)).toEqual(['no such domain']);
  });
});
