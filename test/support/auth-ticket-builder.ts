import { createHash, createHmac, createPrivateKey, randomBytes, sign as cryptoSign, constants } from 'node:crypto';
import type { IssuedCertificate } from '../../src/pki/certificates.js';

/**
 * The client side of the CDOC2 auth ticket (spec/shares-server.md "The auth ticket"), for tests: what the Java
 * client does after one Smart-ID signature. Every knob an attack needs is exposed, so that tests can make exactly
 * one thing wrong at a time.
 */
export const AUTH_TICKET_TYP = 'vnd.cdoc2.auth-token.v1+sd-jwt';

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export const digestOf = (disclosure: string): string =>
  createHash('sha256').update(disclosure, 'ascii').digest('base64url');

/** A disclosure as the Java library writes it: JSON array, base64url, salt of 16 random bytes. */
export const makeDisclosure = (elements: unknown[]): string => b64url(JSON.stringify(elements));

export interface TicketOptions {
  readonly signer: IssuedCertificate;
  /** One URL per server: `<base>/key-shares/<shareId>?nonce=<nonce>`. */
  readonly urls: readonly string[];
  /** Defaults to `etsi/` + the signer's serialNumber. */
  readonly iss?: string;
  /** Defaults to RS256 for RSA keys, ES256/ES384/ES512 by curve. */
  readonly alg?: string;
  readonly typ?: string;
  /** Extra members for the payload (e.g. a plain `aud`). */
  readonly extraClaims?: Record<string, unknown>;
}

export interface AuthTicket {
  readonly jwt: string;
  readonly audDisclosure: string;
  readonly urlDisclosures: readonly string[];
  /** `<jwt>~<aud disclosure>~<url disclosure i>~`: what server i receives. */
  presentationFor(index: number): string;
}

const defaultAlg = (signer: IssuedCertificate): string => {
  const key = createPrivateKey(signer.keyPem);
  if (key.asymmetricKeyType === 'rsa') {
    return 'RS256';
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
};

/** Signs `<header>.<payload>` as JWS `alg` with the signer's key (or, for attack tests, as none / HMAC). */
export function signJws(signer: IssuedCertificate, alg: string, signingInput: string): string {
  const key = createPrivateKey(signer.keyPem);
  const hash = `sha${alg.slice(2)}`;
  if (alg === 'none') {
    return '';
  }
  if (alg.startsWith('HS')) {
    // The classic confusion attack: HMAC keyed with the public certificate the server will read.
    return b64url(createHmac(hash, signer.certPem).update(signingInput).digest());
  }
  if (alg.startsWith('ES')) {
    return b64url(cryptoSign(hash, Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }));
  }
  if (alg.startsWith('PS')) {
    return b64url(
      cryptoSign(hash, Buffer.from(signingInput), {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }),
    );
  }
  return b64url(cryptoSign(hash, Buffer.from(signingInput), key));
}

/** The subject serialNumber of an issued test certificate. */
export const serialNumberOf = (certificate: IssuedCertificate): string =>
  certificate.certificate.subjectName.getField('2.5.4.5')[0] ?? '';

export function createAuthTicket(options: TicketOptions): AuthTicket {
  const urlDisclosures = options.urls.map((url) => makeDisclosure([b64url(randomBytes(16)), url]));
  const audDisclosure = makeDisclosure([
    b64url(randomBytes(16)),
    'aud',
    urlDisclosures.map((disclosure) => ({ '...': digestOf(disclosure) })),
  ]);
  const alg = options.alg ?? defaultAlg(options.signer);
  const header = { typ: options.typ ?? AUTH_TICKET_TYP, alg };
  const payload = {
    iss: options.iss ?? `etsi/${serialNumberOf(options.signer)}`,
    _sd: [digestOf(audDisclosure)],
    _sd_alg: 'sha-256',
    ...options.extraClaims,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const jwt = `${signingInput}.${signJws(options.signer, alg, signingInput)}`;
  return {
    jwt,
    audDisclosure,
    urlDisclosures,
    presentationFor: (index) => `${jwt}~${audDisclosure}~${urlDisclosures[index] ?? ''}~`,
  };
}

/** The x5c header as today's Java client sends it: PEM on one line. */
export const oneLinePem = (certificate: IssuedCertificate): string => certificate.certPem.replace(/\r?\n/g, '');

/** The x5c header as the key-shares 1.2 drafts send it: base64url DER. */
export const base64urlDer = (certificate: IssuedCertificate): string =>
  Buffer.from(certificate.certificate.rawData).toString('base64url');
