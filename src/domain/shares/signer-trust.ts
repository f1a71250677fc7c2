/**
 * The port that decides whether an auth-ticket signer's certificate is trusted now (spec/shares-server.md
 * "Verification" step 2: chains to a configured trusted issuer, within its validity period, not revoked).
 * Implemented outside the domain (`src/pki/issuer-trust.ts`) because revocation checking goes to the network.
 * Throws an `unauthenticated` DomainError that says why, without personal data.
 */
export interface SignerTrust {
  assertTrusted(certificateDer: Uint8Array, now: Date): Promise<void>;
}
