import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/temp-dir.ts';
import { isGrpcTlsError, loadGrpcTls, serverNames } from './grpc-tls.ts';

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' }).toString();

describe('the controller’s own CA for the gRPC listener', () => {
  it('creates a CA and a server certificate openssl accepts, keys 0600, and reuses them', () => {
    const dataDir = tempDir('cockpit-pki-');
    const names = serverNames(['ctl.example', '10.0.0.5']);
    const first = loadGrpcTls({ dataDir, names, now: new Date() });
    const dir = join(dataDir, 'grpc-tls');
    expect(openssl('verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'server.pem')).trim()).toBe(
      `${join(dir, 'server.pem')}: OK`,
    );
    // The fingerprint agents pin, exactly as openssl prints it.
    expect(openssl('x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, 'ca.pem')).trim()).toBe(
      `sha256 Fingerprint=${first.caFingerprint}`,
    );
    const server = new X509Certificate(readFileSync(join(dir, 'server.pem')));
    expect(server.subjectAltName).toContain('DNS:ctl.example');
    expect(server.subjectAltName).toContain('IP Address:10.0.0.5');
    expect(server.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(server.ca).toBe(false);
    expect(new X509Certificate(first.caPem).ca).toBe(true);
    // The served chain carries the CA after the leaf.
    expect(first.certChainPem.endsWith(first.caPem)).toBe(true);
    for (const key of ['ca-key.pem', 'server-key.pem'])
      expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);

    const again = loadGrpcTls({ dataDir, names, now: new Date() });
    expect(again).toEqual(first);
    // A new name gets a new server certificate from the same CA: the pin does not change.
    const renamed = loadGrpcTls({ dataDir, names: serverNames(['other.example']), now: new Date() });
    expect(renamed.caFingerprint).toBe(first.caFingerprint);
    expect(renamed.certChainPem).not.toBe(first.certChainPem);
  });

  it('serves the operator’s files, with the CA appended when the chain lacks it', () => {
    const dataDir = tempDir('cockpit-pki-');
    const own = loadGrpcTls({ dataDir, names: serverNames([]), now: new Date() });
    const dir = join(dataDir, 'grpc-tls');
    const chain = join(dataDir, 'leaf-only.pem');
    writeFileSync(chain, readFileSync(join(dir, 'server.pem')));
    const served = loadGrpcTls({
      dataDir,
      names: [],
      files: { certFile: chain, keyFile: join(dir, 'server-key.pem'), caFile: join(dir, 'ca.pem') },
      now: new Date(),
    });
    expect(served.caFingerprint).toBe(own.caFingerprint);
    expect(served.certChainPem).toContain(own.caPem.trim());
    const noCa = (() => {
      try {
        loadGrpcTls({
          dataDir,
          names: [],
          files: { certFile: chain, keyFile: join(dir, 'server-key.pem') },
          now: new Date(),
        });
      } catch (err) {
        return err;
      }
    })();
    expect(isGrpcTlsError(noCa)).toBe(true);
  });
});
