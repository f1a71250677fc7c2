import { X509Certificate } from 'node:crypto';
import { unauthenticated } from '../domain/errors.js';
import type { SignerTrust } from '../domain/shares/signer-trust.js';

const validAt = (certificate: X509Certificate, now: Date): boolean =>
  new Date(certificate.validFrom).getTime() <= now.getTime() &&
  now.getTime() <= new Date(certificate.validTo).getTime();

/**
 * Step 2 of the auth-ticket verification (spec/shares-server.md): the signer's certificate is issued (and signed)
 * by one of the configured trusted issuers, and both are within their validity periods at `now`.
 *
 * Not yet done here: chains through intermediates that are not themselves configured, and revocation (OCSP):
 * both belong to the certificate-trust issue. Configure the issuing CA itself (e.g. "TEST of EID-SK 2016").
 */
export function createIssuerTrust(issuerPems: readonly string[]): SignerTrust {
  const issuers = issuerPems.map((pem) => new X509Certificate(pem));
  return {
    assertTrusted(der, now) {
      const certificate = new X509Certificate(Buffer.from(der));
      if (!validAt(certificate, now)) {
        return Promise.reject(unauthenticated('the auth certificate is expired or not yet valid'));
      }
      const issuer = issuers.find(
        (candidate) => certificate.checkIssued(candidate) && certificate.verify(candidate.publicKey),
      );
      if (!issuer) {
        return Promise.reject(unauthenticated('the auth certificate is not from a trusted issuer'));
      }
      if (!validAt(issuer, now)) {
        return Promise.reject(unauthenticated("the auth certificate's issuer is expired or not yet valid"));
      }
      return Promise.resolve();
    },
  };
}
