import 'reflect-metadata';
import { X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { unauthenticated } from '../domain/errors.js';
import { LruCache } from '../domain/lru-cache.js';

/**
 * The auth-ticket signer's certificate, as the `x-cdoc2-auth-x5c` header (or gRPC `auth_x5c`) carries it: one-line
 * PEM (today's Java client), base64url DER (the key-shares 1.2 drafts), or ordinary multi-line PEM.
 */
export interface SignerCertificate {
  readonly der: Uint8Array;
  readonly publicKey: KeyObject;
  /** The subject's serialNumber attribute (OID 2.5.4.5), e.g. `PNOEE-30303039914`. */
  readonly subjectSerialNumber: string;
}

const PEM = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const SERIAL_NUMBER_OID = '2.5.4.5';

function decodeX5c(header: string): Buffer {
  const text = header.trim();
  const pem = PEM.exec(text);
  if (pem?.[1] !== undefined) {
    return Buffer.from(pem[1].replace(/\s+/g, ''), 'base64');
  }
  if (BASE64URL.test(text)) {
    return Buffer.from(text, 'base64url');
  }
  throw unauthenticated('the auth certificate is neither PEM nor base64url DER');
}

/**
 * Signer certificates already parsed, by the header text that carried them: a recipient's client sends the same
 * certificate to every server and on every fetch, and parsing it (with its extensions, through @peculiar) was
 * about half of the share GET path. Only certificates that passed step 1 are kept; the result depends on nothing
 * but the text. Trust (chain, validity, revocation) is still checked on every request.
 */
const parsed = new LruCache<string, SignerCertificate>(1024);

/**
 * Step 1 of the verification order (README "What the shares server verifies"): the certificate parses, its key usage
 * allows digitalSignature, and it is not a signing (nonRepudiation) certificate: a qualified signature certificate must
 * never be usable as a login.
 */
export function parseSignerCertificate(header: string): SignerCertificate {
  const known = parsed.get(header);
  if (known) {
    return known;
  }
  const signer = parseUncached(header);
  parsed.set(header, signer);
  return signer;
}

function parseUncached(header: string): SignerCertificate {
  const der = decodeX5c(header);
  let certificate: x509.X509Certificate;
  let nodeCertificate: NodeCertificate;
  try {
    certificate = new x509.X509Certificate(der);
    nodeCertificate = new NodeCertificate(der);
  } catch {
    throw unauthenticated('the auth certificate does not parse');
  }
  if (!nodeCertificate.raw.equals(der)) {
    throw unauthenticated('the auth certificate has bytes after its DER encoding');
  }
  const publicKey: KeyObject = nodeCertificate.publicKey;
  const keyUsage = certificate.getExtension(x509.KeyUsagesExtension);
  if (!keyUsage || (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    throw unauthenticated('the auth certificate does not allow digitalSignature');
  }
  if ((keyUsage.usages & x509.KeyUsageFlags.nonRepudiation) !== 0) {
    throw unauthenticated('the auth certificate is a signing (nonRepudiation) certificate, not an authentication one');
  }
  const serialNumbers = certificate.subjectName.getField(SERIAL_NUMBER_OID);
  if (serialNumbers.length !== 1 || !serialNumbers[0]) {
    throw unauthenticated('the auth certificate subject has no single serialNumber');
  }
  return { der: new Uint8Array(der), publicKey, subjectSerialNumber: serialNumbers[0] };
}

/**
 * The JWS algorithms a key may verify (README "What the shares server verifies" step 3: never `none`, never HMAC;
 * the curve decides the EC algorithm).
 */
export function allowedAlgorithms(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec':
      return (
        { prime256v1: ['ES256'], secp384r1: ['ES384'], secp521r1: ['ES512'] }[
          key.asymmetricKeyDetails?.namedCurve ?? ''
        ] ?? []
      );
    default:
      return [];
  }
}
