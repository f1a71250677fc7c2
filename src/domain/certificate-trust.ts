/**
 * The port that decides whether a certificate is trusted now: it chains to a configured trust anchor (through
 * intermediates that are configured or that the client presented), every certificate on the way is within its validity
 * period with the right CA constraints, and it is not revoked (OCSP); or, for client certificates, it is itself a
 * listed self-signed end-entity certificate (direct trust, no OCSP). Used for recipients' TLS client certificates and
 * auth-ticket signers (README "Certificate trust and revocation"; README "What the shares server verifies" step 2).
 * Implemented outside the domain (`src/pki/certificate-trust.ts`) because revocation checking goes to the network.
 * Throws an `unauthenticated` DomainError that says why, without personal data.
 */
export interface CertificateTrust {
  assertTrusted(certificateDer: Uint8Array, now: Date, presentedChain?: readonly Uint8Array[]): Promise<void>;
}

/**
 * Why a certificate was refused, as a bounded set (a metric label): none was presented, it does not chain to a
 * trusted issuer, it or an issuer is outside its validity period, it is malformed or not fit for the purpose,
 * or the revocation policy refused it (revoked, or its status unknown under hard-fail).
 */
export type CertificateRefusalReason = 'missing' | 'untrusted' | 'expired' | 'invalid' | 'revocation';

/** Hears of every certificate refusal, on every listener and for ticket signers (log line and metric). */
export interface CertificateRefusals {
  refused(reason: CertificateRefusalReason): void;
}
