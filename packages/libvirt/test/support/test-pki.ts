import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A throwaway CA with a server certificate (for 127.0.0.1/localhost) and a client certificate,
 * laid out as libvirt's `pkipath` expects (cacert.pem, clientcert.pem, clientkey.pem) plus the
 * daemon's servercert.pem/serverkey.pem. Extensions follow libvirt's checks (CA basic constraints,
 * key usage, TLS server/client purposes).
 */
export function makeTestPki(dir: string, caName = 'cockpit-test-ca'): string {
  mkdirSync(dir, { recursive: true });
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${caName}`,
    '-keyout',
    'cakey.pem',
    '-out',
    'cacert.pem',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const issue = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}key.pem`,
      '-out',
      `${name}.csr`,
    );
    ossl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'cacert.pem',
      '-CAkey',
      'cakey.pem',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}cert.pem`,
      '-extfile',
      `${name}.ext`,
    );
  };
  issue(
    'server',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  issue(
    'client',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  return dir;
}
