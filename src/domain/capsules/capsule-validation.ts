import { invalidArgument } from '../errors.js';
import { checkEcPoint } from '../ec-point.js';
import { parseRsaPublicKey } from '../rsa-public-key.js';
import {
  CAPSULE_CURVES,
  EPHEMERAL_KEY_MATERIAL_MAX_BYTES,
  RECIPIENT_ID_MAX_BYTES,
  RECIPIENT_ID_MIN_BYTES,
  type Capsule,
} from './capsule.js';

/**
 * Every rule a capsule must satisfy before it is stored (spec/capsule-server.md "Capsule" and "Sender: create").
 * Throws an invalid_argument DomainError naming the field and the problem; it never echoes the bytes.
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
  const curve = CAPSULE_CURVES[capsuleType];
  if (curve) {
    // EC capsules: both keys are points on the capsule's curve.
    const recipientProblem = checkEcPoint(recipientId, curve);
    if (recipientProblem) {
      throw invalidArgument(`recipient_id ${recipientProblem}`);
    }
    const ephemeralProblem = checkEcPoint(ephemeralKeyMaterial, curve);
    if (ephemeralProblem) {
      throw invalidArgument(`ephemeral_key_material ${ephemeralProblem}`);
    }
    return;
  }
  // RSA capsules: the recipient key is a PKCS#1 public key; the encrypted KEK is opaque to the server.
  const rsa = parseRsaPublicKey(recipientId);
  if ('error' in rsa) {
    throw invalidArgument(`recipient_id ${rsa.error}`);
  }
  if (ephemeralKeyMaterial.length === 0) {
    throw invalidArgument('ephemeral_key_material must not be empty for an rsa capsule');
  }
}
