import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

export interface TestPki {
  dir: string;
  caPem: string;
  /** The CA certificate's SHA-256 fingerprint, as `openssl x509 -fingerprint -sha256` prints it. */
  caFingerprint: string;
  serverKey: string;
  serverCert: string;
}

/** A throwaway CA (P-256) and a server certificate for 127.0.0.1 and localhost signed by it. */
export function makeTestPki(caName = 'cockpit-test-ca'): TestPki {
  const dir = tempDir('agent-pki-');
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }).toString();
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl(
    'req',
    '-x509',
    ...key,
    '-days',
    '2',
    '-subj',
    `/CN=${caName}`,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  ossl('req', ...key, '-subj', '/CN=controller', '-keyout', 'server.key', '-out', 'server.csr');
  ossl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    'server.pem',
    '-extfile',
    'server.ext',
  );
  const fingerprint =
    ossl('x509', '-noout', '-fingerprint', '-sha256', '-in', 'ca.pem').trim().split('=')[1] ?? '';
  return {
    dir,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caFingerprint: fingerprint,
    serverKey: readFileSync(join(dir, 'server.key'), 'utf8'),
    serverCert: readFileSync(join(dir, 'server.pem'), 'utf8'),
  };
}
