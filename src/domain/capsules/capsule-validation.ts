import { invalidArgument } from '../errors.js';
import { checkEcPoint } from '../ec-point.js';
import { parseRsaPublicKey } from '../rsa-public-key.js';
import {
  EPHEMERAL_KEY_MATERIAL_MAX_BYTES,
  RECIPIENT_ID_MAX_BYTES,
  RECIPIENT_ID_MIN_BYTES,
  type Capsule,
} from './capsule.js';
import { capsuleTypeEntry, unknownKeyKind, type CapsuleKeyRule } from './capsule-types.js';

/** EC capsules: both keys are points on the capsule's curve. */
function validateEcKeys({ recipientId, ephemeralKeyMaterial }: Capsule, curve: CapsuleKeyRule & { kind: 'ec' }): void {
  const recipientProblem = checkEcPoint(recipientId, curve.curve);
  if (recipientProblem) {
    throw invalidArgument(`recipient_id ${recipientProblem}`);
  }
  const ephemeralProblem = checkEcPoint(ephemeralKeyMaterial, curve.curve);
  if (ephemeralProblem) {
    throw invalidArgument(`ephemeral_key_material ${ephemeralProblem}`);
  }
}

/** RSA capsules: the recipient key is a PKCS#1 public key of the allowed size; the encrypted KEK is opaque. */
function validateRsaKeys(
  { recipientId, ephemeralKeyMaterial, capsuleType }: Capsule,
  rule: CapsuleKeyRule & { kind: 'rsa' },
): void {
  const rsa = parseRsaPublicKey(recipientId, rule);
  if ('error' in rsa) {
    throw invalidArgument(`recipient_id ${rsa.error}`);
  }
  if (ephemeralKeyMaterial.length === 0) {
    throw invalidArgument(`ephemeral_key_material must not be empty for an ${capsuleType} capsule`);
  }
}

/**
 * Every rule a capsule must satisfy before it is stored (openapi/key-capsules.yaml `Capsule`;
 * README "What the server checks, and where"): the byte limits of every type, then the key rule its registry entry
 * declares. Throws an invalid_argument DomainError naming the field and the problem; it never echoes the bytes.
 */
export function validateCapsule(capsule: Capsule): void {
  const { recipientId, ephemeralKeyMaterial, capsuleType } = capsule;
  if (recipientId.length < RECIPIENT_ID_MIN_BYTES || recipientId.length > RECIPIENT_ID_MAX_BYTES) {
    throw invalidArgument(
      `recipient_id must be ${RECIPIENT_ID_MIN_BYTES} to ${RECIPIENT_ID_MAX_BYTES} bytes, got ${recipientId.length}`,
    );
  }
  if (ephemeralKeyMaterial.length > EPHEMERAL_KEY_MATERIAL_MAX_BYTES) {
    throw invalidArgument(
      `ephemeral_key_material must be at most ${EPHEMERAL_KEY_MATERIAL_MAX_BYTES} bytes, got ${ephemeralKeyMaterial.length}`,
    );
  }
  const rule = capsuleTypeEntry(capsuleType).key;
  switch (rule.kind) {
    case 'ec':
      return validateEcKeys(capsule, rule);
    case 'rsa':
      return validateRsaKeys(capsule, rule);
    default:
      return unknownKeyKind(rule);
  }
}
