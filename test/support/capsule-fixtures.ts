import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { CapsuleType as ProtoCapsuleType, type Capsule as ProtoCapsule } from '../../gen/cdoc2/capsules/v1/capsules.js';
import { CAPSULE_TYPE_REGISTRY, type CapsuleType } from '../../src/domain/capsules/capsule-types.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { recipientKeyFromCertificate } from '../../src/transport/tls/recipient-key-from-certificate.js';

const OPENSSL_CURVES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;
const CAPSULE_TYPES = { 'P-256': 'ecc_secp256r1', 'P-384': 'ecc_secp384r1', 'P-521': 'ecc_secp521r1' } as const;
const SIZES = { 'P-256': 32, 'P-384': 48, 'P-521': 66 } as const;

export interface TestCapsule {
  readonly recipientId: Buffer;
  readonly ephemeralKeyMaterial: Buffer;
  readonly capsuleType: CapsuleType;
}

/** A fresh uncompressed point on the curve, as a sender's ephemeral key would be. */
export function ephemeralPoint(curve: keyof typeof OPENSSL_CURVES): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: OPENSSL_CURVES[curve] }).publicKey.export({ format: 'jwk' });
  const pad = (value: string | undefined): Buffer => {
    const bytes = Buffer.from(value ?? '', 'base64url');
    return Buffer.concat([Buffer.alloc(SIZES[curve] - bytes.length), bytes]);
  };
  return Buffer.concat([Buffer.from([4]), pad(jwk.x), pad(jwk.y)]);
}

/** A capsule addressed to the holder of `client`'s certificate key. */
export function capsuleFor(client: IssuedCertificate): TestCapsule {
  const key = recipientKeyFromCertificate(new X509Certificate(client.certPem).raw);
  if (key.kind === 'ec') {
    return {
      recipientId: Buffer.from(key.point),
      ephemeralKeyMaterial: ephemeralPoint(key.curve),
      capsuleType: CAPSULE_TYPES[key.curve],
    };
  }
  if (key.kind === 'rsa') {
    // The KEK encrypted to the recipient key: opaque to the server, so any bytes of the modulus' size do.
    return { recipientId: Buffer.from(key.pkcs1), ephemeralKeyMaterial: randomBytes(512), capsuleType: 'rsa' };
  }
  throw new Error('unsupported test key');
}

/** The REST body of a capsule, keys in the order the GET response uses. */
export const capsuleJson = (capsule: TestCapsule): string =>
  JSON.stringify({
    recipient_id: capsule.recipientId.toString('base64'),
    ephemeral_key_material: capsule.ephemeralKeyMaterial.toString('base64'),
    capsule_type: capsule.capsuleType,
  });

/** The same capsule as the gRPC message carries it. */
export const protoCapsule = (capsule: TestCapsule): ProtoCapsule => ({
  recipientId: capsule.recipientId,
  ephemeralKeyMaterial: capsule.ephemeralKeyMaterial,
  capsuleType: ProtoCapsuleType[CAPSULE_TYPE_REGISTRY[capsule.capsuleType].protoName],
});
