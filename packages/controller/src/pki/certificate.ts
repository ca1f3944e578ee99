import { createHash, type KeyObject, randomBytes, sign, type X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';

// X.509 v3 certificates (RFC 5280) signed with ECDSA P-256 / SHA-256: the controller's own CA and the
// gRPC server certificate it issues. Node can make keys and sign, but not write certificates; this is
// the small part it lacks.

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface CertificateRequest {
  commonName: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (may sign others) or a TLS server certificate for `names`. */
  kind: { ca: true } | { ca: false; names: readonly string[] };
  /** Who signs: absent for a self-signed CA (then `publicKey`'s own private key signs). */
  issuer?: { certificate: X509Certificate; privateKey: KeyObject };
  /** The signing key of a self-signed certificate. */
  selfSignKey?: KeyObject;
}

const name = (commonName: string) =>
  sequence(set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))));

const extension = (oid: string, critical: boolean, value: Buffer) =>
  sequence(objectIdentifier(oid), ...(critical ? [boolean(true)] : []), octetString(value));

const keyIdentifier = (spki: Buffer) => createHash('sha1').update(spki).digest();

/** An IP address as the 4 or 16 bytes of a subjectAltName iPAddress. */
export function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const h = groups(head);
  const t = ip.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(all.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

const generalName = (n: string) =>
  isIPv4(n) || isIPv6(n) ? implicitPrimitive(7, ipBytes(n)) : implicitPrimitive(2, Buffer.from(n, 'ascii'));

/** Issues one certificate; returns it as PEM. */
export function issueCertificate(request: CertificateRequest): string {
  const spki = request.publicKey.export({ type: 'spki', format: 'der' });
  const issuerName = request.issuer
    ? Buffer.from(subjectOf(request.issuer.certificate))
    : name(request.commonName);
  const issuerSpki = request.issuer
    ? request.issuer.certificate.publicKey.export({ type: 'spki', format: 'der' })
    : spki;
  const signingKey = request.issuer?.privateKey ?? request.selfSignKey;
  if (signingKey === undefined) throw new Error('a self-signed certificate needs selfSignKey');

  const extensions =
    request.kind.ca === true
      ? [
          extension(OID.basicConstraints, true, sequence(boolean(true))),
          extension(
            OID.keyUsage,
            true,
            namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]),
          ),
        ]
      : [
          extension(OID.basicConstraints, true, sequence()),
          extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
          extension(OID.extKeyUsage, false, sequence(objectIdentifier(OID.serverAuth))),
          extension(OID.subjectAltName, false, sequence(...request.kind.names.map(generalName))),
        ];
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki))));
  extensions.push(
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyIdentifier(issuerSpki)))),
  );

  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  // 127 random bits: positive, unique enough that no two certificates of one CA share a serial.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithm,
    issuerName,
    sequence(time(request.notBefore), time(request.notAfter)),
    name(request.commonName),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, signingKey);
  const der = sequence(tbs, algorithm, bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END CERTIFICATE-----\n`;
}

/** The DER of a certificate's subject Name, read from its TBSCertificate. */
function subjectOf(cert: X509Certificate): Buffer {
  // Walk the TBSCertificate: [0] version, serial, signature algorithm, issuer, validity, subject.
  const der = cert.raw;
  const tbs = children(der, 0)[0];
  if (tbs === undefined) throw new Error('not a certificate');
  const fields = children(der, tbs.contentStart, tbs.end);
  const subject = fields[5];
  if (subject === undefined) throw new Error('certificate without a subject');
  return der.subarray(subject.start, subject.end);
}

interface Element {
  start: number;
  contentStart: number;
  end: number;
}

/** The elements inside der[from, to) (or inside the element at `from` when `to` is absent). */
function children(der: Buffer, from: number, to?: number): Element[] {
  let pos = from;
  let end = to;
  if (end === undefined) {
    const outer = element(der, from);
    pos = outer.contentStart;
    end = outer.end;
  }
  const out: Element[] = [];
  while (pos < end) {
    const e = element(der, pos);
    out.push(e);
    pos = e.end;
  }
  return out;
}

function element(der: Buffer, start: number): Element {
  let pos = start + 1;
  const first = der[pos++] ?? 0;
  let len = first;
  if (first & 0x80) {
    len = 0;
    for (let i = 0; i < (first & 0x7f); i++) len = len * 256 + (der[pos++] ?? 0);
  }
  return { start, contentStart: pos, end: pos + len };
}

/** A certificate's SHA-256 fingerprint as `openssl x509 -noout -fingerprint -sha256` prints it (AB:CD:…). */
export function opensslFingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.toUpperCase();
}
