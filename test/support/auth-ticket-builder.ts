import { createHmac, createPrivateKey, sign as cryptoSign, constants } from 'node:crypto';
import {
  AUTH_TICKET_TYP,
  encodeDisclosure,
  prepareAuthTicket,
  presentationFor,
  signedJwt,
} from '../../src/domain/shares/auth-ticket.js';
import { disclosureDigest } from '../../src/domain/shares/sd-jwt.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';

/**
 * The client side of the CDOC2 auth ticket (README "The shares server") for the server's tests: the
 * library's ticket builder (src/domain/shares/auth-ticket.ts) with every knob an attack needs exposed, so that tests
 * can make exactly one thing wrong at a time (a forged alg, none, HMAC, a wrong iss or typ).
 */
export { AUTH_TICKET_TYP };

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

export const digestOf = disclosureDigest;

export const makeDisclosure = (elements: unknown[]): string => encodeDisclosure(elements);

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
  const alg = options.alg ?? defaultAlg(options.signer);
  const unsigned = prepareAuthTicket({
    iss: options.iss ?? `etsi/${serialNumberOf(options.signer)}`,
    alg,
    urls: options.urls,
    ...(options.typ === undefined ? {} : { typ: options.typ }),
    ...(options.extraClaims === undefined ? {} : { extraClaims: options.extraClaims }),
  });
  const signature = signJws(options.signer, alg, unsigned.signingInput);
  const jwt = signedJwt(unsigned, Buffer.from(signature, 'base64url'));
  return {
    jwt,
    audDisclosure: unsigned.audDisclosure,
    urlDisclosures: unsigned.urlDisclosures,
    presentationFor: (index) =>
      index < unsigned.urlDisclosures.length
        ? presentationFor(jwt, unsigned, index)
        : `${jwt}~${unsigned.audDisclosure}~~`,
  };
}

/** The x5c header as today's Java client sends it: PEM on one line. */
export const oneLinePem = (certificate: IssuedCertificate): string => certificate.certPem.replace(/\r?\n/g, '');

/** The x5c header as the key-shares 1.2 drafts send it: base64url DER. */
export const base64urlDer = (certificate: IssuedCertificate): string =>
  Buffer.from(certificate.certificate.rawData).toString('base64url');
