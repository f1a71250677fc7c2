import { createPrivateKey, sign as cryptoSign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidRequestError } from './errors.js';

/**
 * Who signs the auth ticket (README "The auth ticket"): signing input in, signature and the
 * signer's certificate out. One call per share fetch, however many servers are involved.
 *
 * A Smart-ID or Mobile-ID adapter implements the same interface (README "Client library and CLI"): `algorithm` is the
 * service's (Smart-ID: RS256; Mobile-ID: ES256 or ES384 by the person's key), `sign` sends SHA-256 of the signing
 * input as the authentication hash, shows the verification code to the person, waits for the session to finish,
 * and returns the service's signature (an EC signature converted from DER to JWS `r || s`) with the
 * authentication certificate the service returns.
 */
export interface TicketSigner {
  /** The JWS `alg` the signature will have: it goes into the signed header, so it is known before signing. */
  readonly algorithm: string;
  /**
   * Signs the ASCII JWS signing input `<header>.<payload>`. The signature is in JWS form (RFC 7518 section 3:
   * PKCS#1 v1.5 or PSS for RSA, `r || s` for ECDSA); the certificate is the signer's, DER.
   */
  sign(signingInput: Uint8Array): Promise<{ signature: Uint8Array; certificate: Uint8Array }>;
}

/** The JWS algorithm of a private key: RS256 for RSA, ES256/ES384/ES512 by EC curve. */
export function jwsAlgorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') {
    return 'RS256';
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[curve ?? ''];
  if (key.asymmetricKeyType !== 'ec' || !algorithm) {
    throw new InvalidRequestError(
      `the signing key must be RSA or EC P-256, P-384 or P-521 (it is ${key.asymmetricKeyType ?? '?'} ${curve ?? ''})`,
    );
  }
  return algorithm;
}

/**
 * A signer holding an authentication key and certificate in files: for tests and the development setup, where the
 * "person" is a key on disk. In production the key lives with Smart-ID or Mobile-ID and never reaches the client.
 */
export function softwareSigner(certificatePem: string | Buffer, keyPem: string | Buffer): TicketSigner {
  let key: KeyObject;
  let certificate: X509Certificate;
  try {
    key = createPrivateKey(keyPem);
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    throw new InvalidRequestError(`the signer's certificate or key does not parse (${(error as Error).message})`);
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new InvalidRequestError("the signer's key does not belong to its certificate");
  }
  const algorithm = jwsAlgorithmOf(key);
  const hash = `sha${algorithm.slice(2)}`;
  return {
    algorithm,
    sign: (signingInput) =>
      Promise.resolve({
        signature: new Uint8Array(
          cryptoSign(hash, signingInput, algorithm.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key),
        ),
        certificate: new Uint8Array(certificate.raw),
      }),
  };
}

export function softwareSignerFromFiles(certificateFile: string, keyFile: string): TicketSigner {
  const read = (file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidRequestError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return softwareSigner(read(certificateFile), read(keyFile));
}
