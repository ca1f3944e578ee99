import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import type { ControllerAddress } from '../config/controller-address.ts';
import { writeFileAtomic } from '../state/atomic-write.ts';

export type CaPinErrorCode =
  /** The controller could not be reached for the handshake: worth trying again later. */
  | 'unreachable'
  /** The controller answered, but no certificate it presented matches the pin: never trust it. */
  | 'mismatch';

export class CaPinError extends Error {
  override readonly name = 'CaPinError';
  constructor(
    readonly code: CaPinErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
export const isCaPinError = (err: unknown): err is CaPinError => err instanceof CaPinError;

/** SHA-256 of a certificate's DER bytes, lower-case hex: what `openssl x509 -fingerprint -sha256` prints. */
export const fingerprintOf = (der: Buffer): string => createHash('sha256').update(der).digest('hex');

/**
 * The controller's CA certificate (PEM), trusted because its fingerprint matches the pin the operator
 * gave (kubeadm's discovery-token-ca-cert-hash, with the certificate's fingerprint): taken from the state
 * folder when an earlier start saved it, else fetched with a raw TLS handshake that verifies nothing
 * but the pin, then saved. From then on it is the only root gRPC trusts.
 */
export async function pinnedCa(
  address: ControllerAddress,
  fingerprint: string,
  savedPath: string,
  timeoutMs = 10_000,
): Promise<string> {
  const saved = await readFile(savedPath, 'utf8').catch(() => undefined);
  if (saved !== undefined && fingerprintOf(new X509Certificate(saved).raw) === fingerprint) return saved;
  const pem = await fetchPinnedCa(address, fingerprint, timeoutMs);
  await writeFileAtomic(savedPath, pem, 0o600);
  return pem;
}

export function fetchPinnedCa(
  address: ControllerAddress,
  fingerprint: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address.host,
      port: address.port,
      servername: isIP(address.host) === 0 ? address.host : undefined,
      // Nothing is trusted yet: the certificates are only read, and believed only if one matches the pin.
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      timeout: timeoutMs,
    });
    const fail = (err: CaPinError) => {
      socket.destroy();
      reject(err);
    };
    socket.once('timeout', () =>
      fail(new CaPinError('unreachable', `no TLS handshake with ${address.target} within ${timeoutMs} ms`)),
    );
    socket.once('error', (err) =>
      fail(
        new CaPinError('unreachable', `TLS handshake with ${address.target} failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.once('secureConnect', () => {
      const chain = chainOf(socket.getPeerCertificate(true));
      socket.end();
      const match = chain.find((der) => fingerprintOf(der) === fingerprint);
      if (match === undefined) {
        return fail(
          new CaPinError(
            'mismatch',
            `${address.target} presented no certificate with SHA-256 fingerprint ${fingerprint} ` +
              `(it presented ${chain.map(fingerprintOf).join(', ') || 'none'}); refusing to trust it`,
          ),
        );
      }
      const ca = new X509Certificate(match);
      if (!ca.ca) {
        return fail(
          new CaPinError(
            'mismatch',
            `the certificate with fingerprint ${fingerprint} is not a CA certificate`,
          ),
        );
      }
      resolve(ca.toString());
    });
  });
}

/** The presented chain, leaf first, each certificate once (a self-signed root names itself as issuer). */
function chainOf(leaf: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = leaf;
  while (cert?.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}
