import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '../coded-error.ts';
import { ipBytes, issueCertificate, opensslFingerprint } from './certificate.ts';

/** What the gRPC server serves and what an agent pins. */
export interface GrpcTls {
  privateKeyPem: string;
  /** Leaf first, then the CA: agents pinning the CA's fingerprint find it in the served chain. */
  certChainPem: string;
  caPem: string;
  /** SHA-256 of the CA certificate as `openssl x509 -noout -fingerprint -sha256` prints it. */
  caFingerprint: string;
}

export class GrpcTlsError extends CodedError<'bad_tls_files'> {}
export const isGrpcTlsError = (err: unknown): err is GrpcTlsError => err instanceof GrpcTlsError;

const DAY = 24 * 60 * 60 * 1000;
const CA_LIFETIME = 20 * 365 * DAY;
const SERVER_LIFETIME = 397 * DAY;
/** A server certificate closer than this to its end is issued again at start. */
const RENEW_BEFORE = 30 * DAY;

/** The host names and addresses the generated server certificate is valid for. */
export function serverNames(extra: readonly string[]): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...extra].filter((n) => n !== ''))];
}

/**
 * The gRPC server's TLS material. With `files`, the operator's own (certificate chain and key, and the
 * CA whose fingerprint agents pin: `caFile`, else the last CA certificate of the chain). Otherwise the
 * controller's own CA in `<dataDir>/grpc-tls/`, created on the first start (keys 0600) and kept: its
 * fingerprint is what every agent pins. The server certificate it issues is issued again when the
 * names it must cover change or its end is near; the CA stays.
 */
export function loadGrpcTls(options: {
  dataDir: string;
  names: readonly string[];
  files?: { certFile: string; keyFile: string; caFile?: string };
  now: Date;
}): GrpcTls {
  if (options.files !== undefined) return fromFiles(options.files);
  const dir = join(options.dataDir, 'grpc-tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = loadOrCreateCa(dir, options.now);
  const server = loadOrIssueServer(dir, ca, options.names, options.now);
  return {
    privateKeyPem: server.keyPem,
    certChainPem: `${server.certPem.trimEnd()}\n${ca.certPem.trimEnd()}\n`,
    caPem: ca.certPem,
    caFingerprint: opensslFingerprint(ca.cert),
  };
}

interface Issued {
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  keyPem: string;
}

function newKey(): { key: KeyObject; publicKey: KeyObject; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    key: privateKey,
    publicKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Writes a file whole or not at all (temporary file, then rename), keys 0600. */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function read(dir: string, certName: string, keyName: string): Issued | undefined {
  const certPath = join(dir, certName);
  const keyPath = join(dir, keyName);
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  const certPem = readFileSync(certPath, 'utf8');
  const keyPem = readFileSync(keyPath, 'utf8');
  return { cert: new X509Certificate(certPem), certPem, key: createPrivateKey(keyPem), keyPem };
}

function loadOrCreateCa(dir: string, now: Date): Issued {
  const existing = read(dir, 'ca.pem', 'ca-key.pem');
  if (existing !== undefined) return existing;
  const { key, publicKey, keyPem } = newKey();
  const certPem = issueCertificate({
    commonName: `Cockpit controller CA ${now.toISOString().slice(0, 10)}`,
    publicKey,
    selfSignKey: key,
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + CA_LIFETIME),
    kind: { ca: true },
  });
  // Key first: a CA certificate without its key would be a dead end at the next start.
  writeAtomic(join(dir, 'ca-key.pem'), keyPem, 0o600);
  writeAtomic(join(dir, 'ca.pem'), certPem, 0o644);
  return { cert: new X509Certificate(certPem), certPem, key, keyPem };
}

function loadOrIssueServer(dir: string, ca: Issued, names: readonly string[], now: Date): Issued {
  const existing = read(dir, 'server.pem', 'server-key.pem');
  if (
    existing?.cert.checkIssued(ca.cert) === true &&
    existing.cert.verify(ca.cert.publicKey) &&
    new Date(existing.cert.validTo).getTime() - now.getTime() > RENEW_BEFORE &&
    names.every((n) => coveredNames(existing.cert).has(canonicalName(n)))
  ) {
    return existing;
  }
  const { key, publicKey, keyPem } = newKey();
  const certPem = issueCertificate({
    commonName: 'cockpit-controller',
    publicKey,
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + SERVER_LIFETIME),
    kind: { ca: false, names },
    issuer: { certificate: ca.cert, privateKey: ca.key },
  });
  writeAtomic(join(dir, 'server-key.pem'), keyPem, 0o600);
  writeAtomic(join(dir, 'server.pem'), certPem, 0o644);
  return { cert: new X509Certificate(certPem), certPem, key, keyPem };
}

/** `DNS:a, IP Address:1.2.3.4` → {a, 1.2.3.4}. */
function coveredNames(cert: X509Certificate): Set<string> {
  return new Set(
    (cert.subjectAltName ?? '')
      .split(', ')
      .map((entry) => canonicalName(entry.replace(/^(DNS|IP Address):/, ''))),
  );
}

/** Names compared as values: IP addresses by their bytes (`::1` is `0:0:0:0:0:0:0:1`), DNS names in any case. */
const canonicalName = (n: string): string => (isIP(n) === 0 ? n.toLowerCase() : ipBytes(n).toString('hex'));

function fromFiles(files: { certFile: string; keyFile: string; caFile?: string }): GrpcTls {
  try {
    const chainPem = readFileSync(files.certFile, 'utf8');
    const privateKeyPem = readFileSync(files.keyFile, 'utf8');
    createPrivateKey(privateKeyPem);
    const chain = splitPem(chainPem).map((pem) => new X509Certificate(pem));
    if (chain.length === 0) throw new GrpcTlsError('bad_tls_files', `${files.certFile} holds no certificate`);
    const ca =
      files.caFile !== undefined
        ? new X509Certificate(readFileSync(files.caFile, 'utf8'))
        : chain.filter((c) => c.ca).at(-1);
    if (ca === undefined) {
      throw new GrpcTlsError(
        'bad_tls_files',
        `${files.certFile} holds no CA certificate: append the CA agents pin, or set COCKPIT_GRPC_TLS_CA_FILE`,
      );
    }
    const served = chain.some((c) => c.fingerprint256 === ca.fingerprint256)
      ? chainPem
      : `${chainPem.trimEnd()}\n${ca.toString().trimEnd()}\n`;
    return {
      privateKeyPem,
      certChainPem: served,
      caPem: ca.toString(),
      caFingerprint: opensslFingerprint(ca),
    };
  } catch (err) {
    if (isGrpcTlsError(err)) throw err;
    throw new GrpcTlsError('bad_tls_files', `cannot use the gRPC TLS files: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const splitPem = (text: string): string[] =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
