import { X509Certificate } from 'node:crypto';
import type { CertificateTrust } from '../../src/domain/certificate-trust.js';
import { createCertificateTrust } from '../../src/pki/certificate-trust.js';
import { createRevocationChecker } from '../../src/pki/revocation-checker.js';

/** Certificate trust for auth-ticket signers with the given PEM issuers as anchors and revocation checking off. */
export function createIssuerTrust(issuerPems: readonly string[]): CertificateTrust {
  return createCertificateTrust({
    anchors: issuerPems.map((pem) => new X509Certificate(pem)),
    revocation: createRevocationChecker({
      mode: 'off',
      responderUrl: undefined,
      timeoutMs: 1000,
      maxResponseAgeMs: 3_600_000,
      cacheSize: 1,
      clock: { now: () => new Date() },
      logger: { warn: () => undefined },
    }),
    label: 'auth certificate',
    logger: { warn: () => undefined },
  });
}
