import 'reflect-metadata';
import { hash, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificateRefusalReason, CertificateRefusals, CertificateTrust } from '../domain/certificate-trust.js';
import { unauthenticated } from '../domain/errors.js';
import { LruCache } from '../domain/lru-cache.js';
import { isValidAt } from './validity.js';
import type { RevocationChecker } from './revocation-checker.js';

export interface CertificateTrustOptions {
  /** Trust anchors: the configured issuer files (roots, or the issuing CAs themselves). */
  readonly anchors: readonly X509Certificate[];
  readonly revocation: RevocationChecker;
  /** How messages name the certificate: "client certificate", "auth certificate". */
  readonly label: string;
  readonly logger: { warn(object: object, message: string): void };
  /**
   * Direct trust: a self-signed end-entity certificate that is itself among the anchors is trusted when presented
   * exactly (same DER), as the official capsule server trusts the self-signed test clients of its truststore.
   * Client certificates only; an auth-ticket signer must always chain to an issuer.
   */
  readonly trustListedLeaves?: boolean;
  /** Verified certificates remembered at most (least recently used are dropped first); 0 remembers none. */
  readonly cacheSize?: number;
  /** Counts every refusal by reason (metrics). */
  readonly refusals?: CertificateRefusals | undefined;
}

/**
 * Issued by itself: its issuer name is its subject and its own key verifies its signature. (Not `checkIssued`,
 * which also demands keyCertSign of the issuer, and an end-entity certificate rightly lacks it.)
 */
const isSelfSigned = (certificate: X509Certificate): boolean =>
  certificate.issuer === certificate.subject && certificate.verify(certificate.publicKey);

/** Verified certificates remembered by default: one entry is about 100 bytes. */
export const DEFAULT_TRUST_CACHE_SIZE = 10_000;

/** Longest chain accepted: leaf, intermediates, anchor. */
const MAX_DEPTH = 6;

interface Constraints {
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly canSignCertificates: boolean;
  readonly allowsSignatures: boolean;
}

/** Parsed once per certificate object: anchors are the same objects on every request. */
const constraintsOf = new WeakMap<X509Certificate, Constraints>();

/** Basic constraints and key usage. Without a key usage extension every usage is allowed (RFC 5280 4.2.1.3). */
function constraints(certificate: X509Certificate): Constraints {
  const known = constraintsOf.get(certificate);
  if (known) {
    return known;
  }
  const parsed = new x509.X509Certificate(certificate.raw);
  const basic = parsed.getExtension(x509.BasicConstraintsExtension);
  const usage = parsed.getExtension(x509.KeyUsagesExtension)?.usages;
  const result: Constraints = {
    isCa: basic?.ca === true,
    pathLength: basic?.pathLength,
    canSignCertificates: usage === undefined || (usage & x509.KeyUsageFlags.keyCertSign) !== 0,
    allowsSignatures: usage === undefined || (usage & x509.KeyUsageFlags.digitalSignature) !== 0,
  };
  constraintsOf.set(certificate, result);
  return result;
}

/**
 * Path validation (RFC 5280 6, the parts that matter here) and revocation, for one kind of certificate. The chain
 * ends at the first configured anchor; each issuer must be a CA allowed to sign certificates, within its path
 * length; every certificate on the path must be valid now; the leaf must not be a CA and must allow signatures.
 * Then the leaf's revocation status is asked of OCSP under the configured policy.
 */
export function createCertificateTrust({
  anchors,
  revocation,
  label,
  logger,
  trustListedLeaves = false,
  cacheSize = DEFAULT_TRUST_CACHE_SIZE,
  refusals,
}: CertificateTrustOptions): CertificateTrust {
  /**
   * Verified leaves, by SHA-256 of their DER: the interval in which the verdict holds, i.e. from the latest
   * notBefore to the earliest of every notAfter on the path and the OCSP answer's usable-until. Nothing of the
   * path can change inside it, and once it ends the certificate is verified afresh: a revocation is seen as soon
   * as the OCSP answer that was relied on may no longer be used.
   */
  const verified = new LruCache<string, { readonly from: number; readonly until: number }>(cacheSize);
  const remember = (key: string, path: readonly X509Certificate[], revocationUntil: number): void => {
    const from = Math.max(...path.map((certificate) => Date.parse(certificate.validFrom)));
    const until = Math.min(revocationUntil, ...path.map((certificate) => Date.parse(certificate.validTo)));
    verified.set(key, { from, until });
  };

  const isAnchor = (certificate: X509Certificate): boolean =>
    anchors.some((anchor) => anchor.raw.equals(certificate.raw));

  /**
   * Logs and throws. No personal names in logs: the serial number identifies the certificate, and the issuer is
   * logged only once the path reached a trusted anchor, because before that the issuer field is whatever the
   * client wrote (for a self-signed certificate, the person's own name).
   */
  const refuse = (
    kind: CertificateRefusalReason,
    reason: string,
    certificate: X509Certificate | undefined,
    trustedIssuer?: X509Certificate,
  ): never => {
    logger.warn(
      { certificate: label, kind, reason, serial: certificate?.serialNumber, issuer: trustedIssuer?.subject },
      'certificate refused',
    );
    refusals?.refused(kind);
    throw unauthenticated(`the ${label} ${reason}`);
  };

  return {
    async assertTrusted(certificateDer, now, presentedChain = []) {
      const key = hash('sha256', certificateDer, 'base64');
      const known = verified.get(key);
      if (known && known.from <= now.getTime() && now.getTime() < known.until) {
        return;
      }
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(Buffer.from(certificateDer));
      } catch {
        return refuse('invalid', 'does not parse', undefined);
      }
      const pool = [
        ...presentedChain.flatMap((der) => {
          try {
            return [new X509Certificate(Buffer.from(der))];
          } catch {
            return [];
          }
        }),
        ...anchors,
      ];
      const leafConstraints = constraints(leaf);
      if (leafConstraints.isCa) {
        refuse('invalid', 'is a CA certificate', leaf);
      }
      if (!leafConstraints.allowsSignatures) {
        refuse('invalid', 'does not allow digitalSignature', leaf);
      }
      if (trustListedLeaves && isAnchor(leaf) && isSelfSigned(leaf)) {
        // Listed as itself, and it is not a CA (checked above), so it never issues: a certificate signed by its key
        // finds no issuer below. Validity still counts. OCSP is not asked: no issuer can answer for a self-signed
        // certificate, so it is revoked by removing it from the file.
        if (!isValidAt(leaf, now)) {
          refuse('expired', 'is expired or not yet valid', leaf);
        }
        remember(key, [leaf], Number.POSITIVE_INFINITY);
        return;
      }
      const path = [leaf];
      let current = leaf;
      // Otherwise the leaf itself is never an anchor: configured files name issuers, and a leaf listed there by
      // mistake (or any listed leaf, for auth certificates) must still be issued by one.
      while (path.length === 1 || !isAnchor(current)) {
        if (path.length >= MAX_DEPTH) {
          refuse('untrusted', 'has too long a chain', leaf);
        }
        const intermediatesBelow = path.length - 1;
        const issuer = pool.find((candidate) => {
          // A certificate already on the path (a self-signed one the client presented) never issues again.
          if (path.some((onPath) => onPath.raw.equals(candidate.raw))) {
            return false;
          }
          if (!current.checkIssued(candidate) || !current.verify(candidate.publicKey)) {
            return false;
          }
          const issuerConstraints = constraints(candidate);
          return (
            issuerConstraints.isCa &&
            issuerConstraints.canSignCertificates &&
            (issuerConstraints.pathLength === undefined || intermediatesBelow <= issuerConstraints.pathLength)
          );
        });
        if (!issuer) {
          return refuse('untrusted', 'is not issued by a trusted issuer', leaf);
        }
        path.push(issuer);
        current = issuer;
      }
      // From here on the path ends at a trusted anchor, so its issuer is a CA we know and may be logged.
      const issuer = path[1] as X509Certificate;
      const expired = path.find((certificate) => !isValidAt(certificate, now));
      if (expired) {
        refuse(
          'expired',
          expired === leaf ? 'is expired or not yet valid' : 'has an issuer that is expired or not yet valid',
          leaf,
          issuer,
        );
      }
      const verdict = await revocation.check(leaf, issuer);
      if (!verdict.ok) {
        return refuse('revocation', `is refused: ${verdict.reason}`, leaf, issuer);
      }
      if (verdict.until !== undefined) {
        remember(key, path, verdict.until);
      }
    },
  };
}
