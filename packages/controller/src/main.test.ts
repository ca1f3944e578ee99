import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runMain(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: packageDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Each test starts real controller processes on PGlite: seconds each, more on a loaded machine.
describe('main (pnpm start)', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-main-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('exits 2 naming every bad variable', async () => {
    const run = runMain({
      COCKPIT_HTTP_PORT: 'eighty',
      COCKPIT_LOG_LEVEL: 'chatty',
      COCKPIT_DATA_DIR: dataDir,
    });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('COCKPIT_HTTP_PORT');
    expect(run.output()).toContain('COCKPIT_LOG_LEVEL');
  });

  it('starts on the embedded database, prints the generated admin password once, and stops on SIGTERM', async () => {
    const first = runMain({ COCKPIT_DATA_DIR: dataDir, COCKPIT_HTTP_PORT: '0', COCKPIT_GRPC_PORT: '0' });
    await waitFor('the first start', () => first.output().includes('controller listening'));
    const password = /the first user "admin" with this password:\s+(\S+)/.exec(first.output())?.[1];
    expect(password).toBeDefined();
    const url = /"url":"(http:[^"]+)"/.exec(first.output())?.[1];
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    // The second start reuses the data: same admin, no new password.
    const second = runMain({ COCKPIT_DATA_DIR: dataDir, COCKPIT_HTTP_PORT: '0', COCKPIT_GRPC_PORT: '0' });
    await waitFor('the second start', () => second.output().includes('controller listening'));
    expect(second.output()).not.toContain('with this password');
    const url2 = /"url":"(http:[^"]+)"/.exec(second.output())?.[1];
    const again = await fetch(`${url2}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(again.status).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });
});
