import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Capsule } from '../../src/domain/capsules/capsule.js';
import type { CapsuleType } from '../../src/domain/capsules/capsule-types.js';
import { validateCapsule } from '../../src/domain/capsules/capsule-validation.js';
import type { CurveName } from '../../src/domain/ec-point.js';
import { DomainError } from '../../src/domain/errors.js';
import { pkcs1Der, randomEcPoint, randomModulus, realRsaPkcs1 } from '../fixtures/keys.js';

const EC_TYPES: ReadonlyArray<[CapsuleType, CurveName]> = [
  ['ecc_secp256r1', 'P-256'],
  ['ecc_secp384r1', 'P-384'],
  ['ecc_secp521r1', 'P-521'],
];

const ecCapsule = (capsuleType: CapsuleType, curve: CurveName): Capsule => ({
  capsuleType,
  recipientId: randomEcPoint(curve).point,
  ephemeralKeyMaterial: randomEcPoint(curve).point,
});

/** The DomainError `validateCapsule` throws; fails the test when it throws nothing or something else. */
const refusal = (capsule: Capsule): DomainError => {
  try {
    validateCapsule(capsule);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('the capsule was accepted');
};

const expectInvalid = (capsule: Capsule, field: 'recipient_id' | 'ephemeral_key_material'): DomainError => {
  const error = refusal(capsule);
  expect(error.code).to.equal('invalid_argument');
  expect(error.message.startsWith(`${field} `), error.message).to.equal(true);
  return error;
};

describe('validateCapsule', () => {
  describe('EC capsules', () => {
    for (const [capsuleType, curve] of EC_TYPES) {
      it(`accepts a ${capsuleType} capsule of two ${curve} points`, () => {
        expect(() => validateCapsule(ecCapsule(capsuleType, curve))).not.to.throw();
      });

      it(`refuses a ${capsuleType} capsule whose recipient point is off the curve`, () => {
        const capsule = ecCapsule(capsuleType, curve);
        const recipientId = Buffer.from(capsule.recipientId);
        recipientId[recipientId.length - 1] = (recipientId[recipientId.length - 1] ?? 0) ^ 0x01;
        const error = expectInvalid({ ...capsule, recipientId }, 'recipient_id');
        expect(error.message).to.equal(`recipient_id is not a point on ${curve}`);
      });

      it(`refuses a ${capsuleType} capsule with a valid recipient point but an invalid ephemeral point`, () => {
        const capsule = ecCapsule(capsuleType, curve);
        const ephemeralKeyMaterial = Buffer.from(capsule.ephemeralKeyMaterial);
        ephemeralKeyMaterial[0] = 0x02;
        const error = expectInvalid({ ...capsule, ephemeralKeyMaterial }, 'ephemeral_key_material');
        expect(error.message).to.equal('ephemeral_key_material must start with 0x04 (uncompressed point encoding)');
      });

      it(`refuses a ${capsuleType} capsule with empty ephemeral key material`, () => {
        const capsule = ecCapsule(capsuleType, curve);
        expectInvalid({ ...capsule, ephemeralKeyMaterial: new Uint8Array(0) }, 'ephemeral_key_material');
      });
    }

    it('refuses a P-384 recipient point in an ecc_secp256r1 capsule', () => {
      const capsule: Capsule = {
        capsuleType: 'ecc_secp256r1',
        recipientId: randomEcPoint('P-384').point,
        ephemeralKeyMaterial: randomEcPoint('P-256').point,
      };
      const error = expectInvalid(capsule, 'recipient_id');
      expect(error.message).to.equal('recipient_id must be 65 bytes (an uncompressed P-256 point), got 97');
    });

    it('refuses a P-256 ephemeral point in an ecc_secp521r1 capsule', () => {
      const capsule: Capsule = {
        capsuleType: 'ecc_secp521r1',
        recipientId: randomEcPoint('P-521').point,
        ephemeralKeyMaterial: randomEcPoint('P-256').point,
      };
      expectInvalid(capsule, 'ephemeral_key_material');
    });

    it('refuses an RSA key as the recipient of an EC capsule', () => {
      const capsule: Capsule = {
        capsuleType: 'ecc_secp256r1',
        recipientId: pkcs1Der(randomModulus(2048)),
        ephemeralKeyMaterial: randomEcPoint('P-256').point,
      };
      expectInvalid(capsule, 'recipient_id');
    });
  });

  describe('byte limits', () => {
    it('refuses a recipient_id of 64 bytes', () => {
      const capsule: Capsule = {
        capsuleType: 'ecc_secp256r1',
        recipientId: randomEcPoint('P-256').point.subarray(0, 64),
        ephemeralKeyMaterial: randomEcPoint('P-256').point,
      };
      const error = expectInvalid(capsule, 'recipient_id');
      expect(error.message).to.equal('recipient_id must be 65 to 2100 bytes, got 64');
    });

    it('refuses a recipient_id of 2101 bytes', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: randomBytes(2101),
        ephemeralKeyMaterial: randomBytes(256),
      };
      const error = expectInvalid(capsule, 'recipient_id');
      expect(error.message).to.equal('recipient_id must be 65 to 2100 bytes, got 2101');
    });

    it('refuses ephemeral_key_material of 2101 bytes', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: pkcs1Der(randomModulus(2048)),
        ephemeralKeyMaterial: randomBytes(2101),
      };
      const error = expectInvalid(capsule, 'ephemeral_key_material');
      expect(error.message).to.equal('ephemeral_key_material must be at most 2100 bytes, got 2101');
    });

    it('accepts ephemeral_key_material of exactly 2100 bytes in an rsa capsule', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: pkcs1Der(randomModulus(2048)),
        ephemeralKeyMaterial: randomBytes(2100),
      };
      expect(() => validateCapsule(capsule)).not.to.throw();
    });

    it('accepts a 16384-bit RSA recipient key (2062 bytes, within the 2100-byte limit)', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: pkcs1Der(randomModulus(16384)),
        ephemeralKeyMaterial: randomBytes(2048),
      };
      expect(() => validateCapsule(capsule)).not.to.throw();
    });
  });

  describe('rsa capsules', () => {
    it('accepts a real 2048-bit PKCS#1 key with non-empty ephemeral material', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: realRsaPkcs1(2048),
        ephemeralKeyMaterial: randomBytes(256),
      };
      expect(() => validateCapsule(capsule)).not.to.throw();
    });

    it('refuses empty ephemeral material (an rsa capsule must carry the encrypted KEK)', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: realRsaPkcs1(2048),
        ephemeralKeyMaterial: new Uint8Array(0),
      };
      const error = expectInvalid(capsule, 'ephemeral_key_material');
      expect(error.message).to.equal('ephemeral_key_material must not be empty for an rsa capsule');
    });

    it('refuses an EC point as the recipient of an rsa capsule', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: randomEcPoint('P-256').point,
        ephemeralKeyMaterial: randomBytes(256),
      };
      const error = expectInvalid(capsule, 'recipient_id');
      expect(error.message).to.match(/^recipient_id is not (valid DER|canonical DER|a PKCS#1 RSAPublicKey)/);
    });

    it('refuses a 1024-bit RSA recipient key, naming its size', () => {
      const capsule: Capsule = {
        capsuleType: 'rsa',
        recipientId: realRsaPkcs1(1024),
        ephemeralKeyMaterial: randomBytes(128),
      };
      const error = expectInvalid(capsule, 'recipient_id');
      expect(error.message).to.equal('recipient_id is a 1024-bit RSA key; 2048 to 16384 bits are accepted');
    });
  });
});
