import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedController } from './support/scripted-controller.ts';
import { startTestAgent, type TestAgent, tempStateDir } from './support/test-agent.ts';
import { makeTestPki } from './support/test-pki.ts';

// TLS to the controller: a CA file, or a CA pinned by its SHA-256 fingerprint (fetched with a raw
// handshake on first contact, kept in the state folder), against a real grpc-js TLS server.

const pki = makeTestPki();
const other = makeTestPki('some-other-ca');
const pinOf = (fingerprint: string) => fingerprint.toLowerCase().replace(/:/g, '');

let controller: ScriptedController | undefined;
const agents: TestAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.agent.close()));
  await controller?.stop();
});

async function tlsController(servingChain = `${pki.serverCert}${pki.caPem}`) {
  controller = await ScriptedController.start({ tls: { key: pki.serverKey, certChain: servingChain } });
  return controller;
}

async function agentFor(
  c: ScriptedController,
  tls: NonNullable<Parameters<typeof startTestAgent>[1]>['config'],
) {
  const a = await startTestAgent(c.address, { config: { joinToken: 'tok', ...tls } });
  agents.push(a);
  return a;
}

describe('TLS to the controller', () => {
  it('--ca-file: joins and connects over TLS', async () => {
    const c = await tlsController();
    const sessions = c.nextSession();
    await agentFor(c, { tls: { mode: 'ca-file', caFile: join(pki.dir, 'ca.pem'), caPem: pki.caPem } });
    const session = await sessions;
    expect(session.authorization).toBe('Bearer cred-1');
    expect(c.joins).toHaveLength(1);
  });

  it('--ca-sha256: pins the CA on first contact, saves it, and trusts only it from then on', async () => {
    const c = await tlsController();
    const sessions = c.nextSession();
    const a = await agentFor(c, { tls: { mode: 'ca-sha256', fingerprint: pinOf(pki.caFingerprint) } });
    await sessions;
    const saved = join(a.stateDir, 'controller-ca.pem');
    expect(await readFile(saved, 'utf8')).toBe(pki.caPem);
    expect((await stat(saved)).mode & 0o777).toBe(0o600);
  });

  it('--ca-sha256 that matches nothing the controller presents: refuses, never joins', async () => {
    const c = await tlsController();
    const a = await agentFor(c, { tls: { mode: 'ca-sha256', fingerprint: pinOf(other.caFingerprint) } });
    const stop = await a.agent.stopped;
    expect(stop.kind === 'failed' && stop.error).toMatchObject({ name: 'CaPinError', code: 'mismatch' });
    expect(stop.kind === 'failed' && stop.error.message).toContain(pinOf(pki.caFingerprint));
    expect(c.joins).toHaveLength(0);
  });

  it('a saved CA that no longer matches the pin is fetched again', async () => {
    const c = await tlsController();
    const sessions = c.nextSession();
    const dir = await tempStateDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'controller-ca.pem'), other.caPem);
    const a = await startTestAgent(c.address, {
      stateDir: dir,
      config: { joinToken: 'tok', tls: { mode: 'ca-sha256', fingerprint: pinOf(pki.caFingerprint) } },
    });
    agents.push(a);
    await sessions;
    expect(await readFile(join(dir, 'controller-ca.pem'), 'utf8')).toBe(pki.caPem);
  });

  it('the wrong CA file: TLS fails and the agent keeps retrying, saying why', async () => {
    const c = await tlsController();
    const a = await agentFor(c, {
      tls: { mode: 'ca-file', caFile: join(other.dir, 'ca.pem'), caPem: other.caPem },
    });
    await expect
      .poll(() => a.log.messages('cannot reach the controller to join').length)
      .toBeGreaterThanOrEqual(2);
    expect(String(a.log.messages('cannot reach the controller to join')[0]?.err)).toMatch(
      /certificate|self.signed|verify/i,
    );
    expect(c.joins).toHaveLength(0);
  });
});
