import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  isDialError,
  isInterrupted,
  LibvirtClientError,
  type LibvirtConnection,
} from '../src/index.ts';
import { freePortRange } from './harness/index.ts';
import { type PrivateLibvirtd, startPrivateLibvirtd } from './support/private-libvirtd.ts';
import { makeTestPki } from './support/test-pki.ts';

// TLS with client certificates against a real libvirtd (auth_tls = "none": the certificate is the
// credential). The daemon checks our client certificate; we check its server certificate.

let daemon: PrivateLibvirtd;
let dir: string;
let pki: string;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cockpit-tls-'));
  pki = makeTestPki(join(dir, 'pki'));
  port = await freePortRange(1);
  daemon = await startPrivateLibvirtd({ tls: { port, pkiDir: pki } });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const read = (name: string) => readFileSync(join(pki, name));

async function caught(p: Promise<LibvirtConnection>): Promise<unknown> {
  try {
    const c = await p;
    // A daemon may accept the handshake and hang up right after; the first call then fails.
    await c.host.getHostname();
  } catch (err) {
    return err;
  }
  throw new Error('expected the connection to fail');
}

describe('qemu+tls / test+tls with client certificates', () => {
  it('connects with certificates given as options', async () => {
    const conn = await connect(`test+tls://127.0.0.1:${port}/default`, {
      tls: { ca: read('cacert.pem'), cert: read('clientcert.pem'), key: read('clientkey.pem') },
    });
    const unix = await connect(daemon.uri('test'));
    expect(await conn.host.getHostname()).toBe(await unix.host.getHostname());
    expect((await conn.domains.listAll()).map((d) => d.name)).toContain('test');
    await Promise.all([conn.close(), unix.close()]);
  });

  it('reads them from ?pkipath= like libvirt does', async () => {
    const conn = await connect(`test+tls://localhost:${port}/default?pkipath=${pki}`);
    expect(conn.name).toBe('test:///default');
    expect(typeof (await conn.host.getLibVersion())).toBe('number');
    await conn.close();
  });

  it('qemu+tls opens the QEMU driver of the same daemon', async () => {
    // The daemon's first QEMU open probes QEMU's capabilities: seconds, hence the longer timeout.
    const conn = await connect(`qemu+tls://localhost:${port}/system?pkipath=${pki}`);
    expect(conn.name).toBe('qemu:///system');
    // The hypervisor version is QEMU's (the test driver would report libvirt's own fake 2.0.0).
    const qemu = Number(
      /QEMU emulator version (\d+)\.(\d+)\.(\d+)/
        .exec(execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }))
        ?.slice(1)
        .reduce((v, n) => v * 1000 + Number(n), 0),
    );
    expect(await conn.host.getVersion()).toBe(qemu);
    await conn.close();
  }, 60_000);

  it('refuses a server whose certificate our CA did not sign', async () => {
    const other = makeTestPki(join(dir, 'other'), 'someone-else');
    const err = await caught(
      connect(`test+tls://127.0.0.1:${port}/default`, {
        tls: {
          ca: readFileSync(join(other, 'cacert.pem')),
          cert: read('clientcert.pem'),
          key: read('clientkey.pem'),
        },
      }),
    );
    expect(isDialError(err)).toBe(true);
    // Generating a second PKI (RSA keys) is slow on a loaded machine.
  }, 60_000);

  it('is refused by the daemon without a client certificate', async () => {
    const err = await caught(
      connect(`test+tls://127.0.0.1:${port}/default`, { tls: { ca: read('cacert.pem'), cert: '', key: '' } }),
    );
    expect(err instanceof LibvirtClientError && (isDialError(err) || isInterrupted(err))).toBe(true);
  });
});
