import { constantTimeEqual } from '../constant-time.js';
import type { CurveName } from '../ec-point.js';
import type { StoredCapsule } from './capsule.js';
import { capsuleTypeEntry, unknownKeyKind } from './capsule-types.js';

/**
 * The public key of an authenticated recipient, in the encodings a capsule stores (CDOC2 spec "CDOC2 CCS"
 * > "The KeyServerCapsule authentication scheme"): an uncompressed point for EC keys, DER PKCS#1 for RSA keys. The
 * transport derives it from the client's TLS certificate; keys of any other kind cannot be the recipient of any
 * capsule.
 */
export type RecipientKey =
  | { readonly kind: 'ec'; readonly curve: CurveName; readonly point: Uint8Array }
  | { readonly kind: 'rsa'; readonly pkcs1: Uint8Array }
  | { readonly kind: 'unsupported' };

/**
 * True when the capsule is addressed to this key: the key kind and curve its type's registry entry declares, and
 * the same bytes (compared in constant time).
 */
export function isAddressedTo(capsule: StoredCapsule, key: RecipientKey): boolean {
  const rule = capsuleTypeEntry(capsule.capsuleType).key;
  switch (rule.kind) {
    case 'ec':
      return key.kind === 'ec' && key.curve === rule.curve && constantTimeEqual(key.point, capsule.recipientId);
    case 'rsa':
      return key.kind === 'rsa' && constantTimeEqual(key.pkcs1, capsule.recipientId);
    default:
      return unknownKeyKind(rule);
  }
}
