import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_START,
  childrenOf,
  commandLine,
  killRunning,
  runMain,
  waitFor,
} from '../test/support/controller-process.ts';

// Each test starts real controller processes on PGlite: seconds each, more on a loaded machine.
describe('main (pnpm start)', { timeout: 300_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cockpit-main-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  afterEach(killRunning);

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

  it('stops a first start on a busy port before anything is created: one line naming the variable, exit 2', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = String((busy.address() as { port: number }).port);
    const fresh = join(dataDir, 'never-created');
    try {
      const run = runMain({ COCKPIT_DATA_DIR: fresh, COCKPIT_HTTP_PORT: port, COCKPIT_GRPC_PORT: '0' });
      expect(await run.exited).toBe(2);
      expect(run.output()).toContain(`COCKPIT_HTTP_PORT: 127.0.0.1:${port} is already in use`);
      expect(run.output()).not.toMatch(/\n\s+at /); // no stack trace
      expect(run.output()).not.toContain('with this password');
      expect(existsSync(fresh)).toBe(false);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('keeps the data folder private whatever the umask, keeps the first password in a 0600 file, and resets it from the shell', async () => {
    const dir = join(dataDir, 'private');
    const env = { COCKPIT_DATA_DIR: dir, COCKPIT_HTTP_PORT: '0', COCKPIT_GRPC_PORT: '0' };
    const first = runMain(env, [], { umask: '000' });
    await waitFor('the first start', () => first.output().includes('controller listening'));
    const password = /the first user "admin" with this password:\s+(\S+)/.exec(first.output())?.[1];
    expect(readFileSync(join(dir, 'initial-admin-password'), 'utf8')).toBe(`${password}\n`);
    // Folders are 0700 and the controller's own files (keys, CA, password) 0600. The database's
    // files may be caught being born: PGlite (emscripten) creates a file 0777, which the umask
    // makes 0700, and only then sets the 0600 PostgreSQL asked for. No file may ever grant group
    // or others anything.
    const pgdata = join(dir, 'pgdata');
    const loose = (): string[] => {
      const found: string[] = [];
      const walk = (path: string) => {
        const stat = lstatSync(path);
        if (stat.isSymbolicLink()) return;
        const mode = stat.mode & 0o777;
        if (stat.isDirectory()) {
          if (mode !== 0o700) found.push(`${path} ${mode.toString(8)}`);
          for (const name of readdirSync(path)) walk(join(path, name));
        } else if (path.startsWith(`${pgdata}/`) ? (mode & 0o077) !== 0 : mode !== 0o600) {
          found.push(`${path} ${mode.toString(8)}`);
        }
      };
      walk(dir);
      return found;
    };
    expect(loose()).toEqual([]);

    // While it runs, the embedded database is its alone: the reset says to stop it first.
    const refused = runMain(env, ['reset-admin-password']);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain('stop the controller first');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(loose()).toEqual([]);

    const reset = runMain(env, ['reset-admin-password'], { umask: '000' });
    expect(await reset.exited).toBe(0);
    const fresh = /Its new password:\s+(\S+)/.exec(reset.output())?.[1];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(password);
    expect(readFileSync(join(dir, 'initial-admin-password'), 'utf8')).toBe(`${fresh}\n`);
    expect(loose()).toEqual([]);

    const again = runMain(env);
    await waitFor('the start after the reset', () => again.output().includes('controller listening'));
    const url = /"url":"(http:[^"]+)"/.exec(again.output())?.[1];
    const login = (pw: string | undefined) =>
      fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: pw }),
      });
    expect((await login(password)).status).toBe(401);
    const ok = await login(fresh);
    expect(ok.status).toBe(200);
    // Changing the password retires the file.
    const { token } = (await ok.json()) as { token: string };
    const me = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string };
    const changed = await fetch(`${url}/api/v1/users/${me.sub}/password`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ password: 'an-admin-chosen-password-1' }),
    });
    expect(changed.status).toBe(204);
    expect(existsSync(join(dir, 'initial-admin-password'))).toBe(false);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  it('a SIGTERM while it starts stops it cleanly once it is up (exit 0), not mid-start', async () => {
    const env = {
      COCKPIT_DATA_DIR: join(dataDir, 'early-signal'),
      COCKPIT_HTTP_PORT: '0',
      COCKPIT_GRPC_PORT: '0',
    };
    const run = runMain(env);
    await waitFor('the embedded database to start', () =>
      run.output().includes('embedded database (PGlite) started'),
    );
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('"msg":"stopped"');
    // It was still starting when the signal came: it went on to listen, then stopped.
    expect(run.output().indexOf('controller listening')).toBeLessThan(run.output().indexOf('shutting down'));
  });

  it('`pnpm start` runs the compiled controller, no TypeScript loader, and passes SIGTERM on', async () => {
    const env = {
      COCKPIT_DATA_DIR: join(dataDir, 'bootstrap'),
      COCKPIT_HTTP_PORT: '0',
      COCKPIT_GRPC_PORT: '0',
      // The demo agents have their own tests (src/demo/demo-agents.test.ts).
      COCKPIT_DEMO_AGENTS: '0',
    };
    const run = runMain(env, [], { command: BOOTSTRAP_START });
    await waitFor('`pnpm start` to bring the controller up', () =>
      run.output().includes('controller listening'),
    );
    const pid = run.child.pid ?? 0;
    const children = childrenOf(pid);
    expect(children).toHaveLength(1);
    const argv = commandLine(children[0] ?? 0);
    expect(argv).toContain('dist/main.js');
    expect(argv.join(' ')).not.toContain('tsx');
    // COCKPIT_DEMO_AGENTS=0: no agent beside it, no demo banner.
    expect(childrenOf(children[0] ?? 0)).toEqual([]);
    expect(run.output()).not.toContain('simulated hypervisors');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('shutting down');
  });

  it('refuses an unknown command with the usage and exit 2', async () => {
    const run = runMain({ COCKPIT_DATA_DIR: dataDir }, ['frobnicate']);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('usage: cockpit-controller');
  });
});
