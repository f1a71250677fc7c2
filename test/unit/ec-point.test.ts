import { expect } from 'chai';
import { checkEcPoint, ecPointLength, type CurveName } from '../../src/domain/ec-point.js';
import {
  COORDINATE_BYTES,
  CURVE_NAMES,
  ecPointOf,
  FIELD_PRIME,
  fromBigInt,
  pointWithShortCoordinate,
  randomEcKey,
  randomEcPoint,
  spkiPointOf,
  toBigInt,
} from '../fixtures/keys.js';

const POINT_LENGTH: Readonly<Record<CurveName, number>> = { 'P-256': 65, 'P-384': 97, 'P-521': 133 };

const coordinates = (point: Uint8Array, curve: CurveName): { x: bigint; y: bigint } => {
  const size = COORDINATE_BYTES[curve];
  return { x: toBigInt(point.subarray(1, 1 + size)), y: toBigInt(point.subarray(1 + size)) };
};

const encode = (curve: CurveName, x: bigint, y: bigint, prefix = 0x04): Buffer => {
  const size = COORDINATE_BYTES[curve];
  return Buffer.concat([Buffer.from([prefix]), fromBigInt(x, size), fromBigInt(y, size)]);
};

describe('ecPointLength', () => {
  for (const curve of CURVE_NAMES) {
    it(`is ${POINT_LENGTH[curve]} bytes for ${curve}`, () => {
      expect(ecPointLength(curve)).to.equal(POINT_LENGTH[curve]);
    });
  }
});

describe('checkEcPoint', () => {
  for (const curve of CURVE_NAMES) {
    const length = POINT_LENGTH[curve];

    describe(curve, () => {
      it('accepts several random public keys from node:crypto', () => {
        for (let i = 0; i < 8; i++) {
          const { point } = randomEcPoint(curve);
          expect(point).to.have.length(length);
          expect(checkEcPoint(point, curve)).to.equal(undefined);
        }
      });

      it('accepts a public key whose x or y has leading zero bytes once left-padded', () => {
        const { point, publicKey, xMinimalLength, yMinimalLength } = pointWithShortCoordinate(curve);
        expect(Math.min(xMinimalLength, yMinimalLength)).to.be.below(COORDINATE_BYTES[curve]);
        expect(point.equals(spkiPointOf(publicKey, curve)), 'padded like node:crypto pads').to.equal(true);
        expect(point).to.have.length(length);
        expect(checkEcPoint(point, curve)).to.equal(undefined);
      });

      it("builds the test points exactly as node:crypto encodes them (the test helper's padding is right)", () => {
        for (let i = 0; i < 8; i++) {
          const key = randomEcKey(curve);
          expect(ecPointOf(key, curve).point.equals(spkiPointOf(key, curve))).to.equal(true);
        }
      });

      it('accepts the negation (x, p - y) of a valid point', () => {
        const { point } = randomEcPoint(curve);
        const { x, y } = coordinates(point, curve);
        expect(checkEcPoint(encode(curve, x, FIELD_PRIME[curve] - y), curve)).to.equal(undefined);
      });

      it('refuses a point one byte short', () => {
        const { point } = randomEcPoint(curve);
        expect(checkEcPoint(point.subarray(0, length - 1), curve)).to.equal(
          `must be ${length} bytes (an uncompressed ${curve} point), got ${length - 1}`,
        );
      });

      it('refuses a point with one extra byte', () => {
        const { point } = randomEcPoint(curve);
        const longer = Buffer.concat([point, Buffer.from([0x00])]);
        expect(checkEcPoint(longer, curve)).to.equal(
          `must be ${length} bytes (an uncompressed ${curve} point), got ${length + 1}`,
        );
      });

      for (const other of CURVE_NAMES.filter((name) => name !== curve)) {
        it(`refuses a valid ${other} point (${POINT_LENGTH[other]} bytes)`, () => {
          const { point } = randomEcPoint(other);
          expect(checkEcPoint(point, curve)).to.include(`must be ${length} bytes`);
        });
      }

      it(`refuses the compressed form (${1 + COORDINATE_BYTES[curve]} bytes, prefix 0x02 or 0x03)`, () => {
        const { point } = randomEcPoint(curve);
        const { y } = coordinates(point, curve);
        const compressed = Buffer.concat([
          Buffer.from([y % 2n === 0n ? 0x02 : 0x03]),
          point.subarray(1, 1 + COORDINATE_BYTES[curve]),
        ]);
        expect(checkEcPoint(compressed, curve)).to.include(`must be ${length} bytes`);
      });

      it('refuses an empty byte string', () => {
        expect(checkEcPoint(new Uint8Array(0), curve)).to.include('got 0');
      });

      for (const prefix of [0x00, 0x02, 0x03, 0x05, 0x06, 0x07]) {
        it(`refuses a valid point whose prefix byte is 0x${prefix.toString(16).padStart(2, '0')}`, () => {
          const point = Buffer.from(randomEcPoint(curve).point);
          point[0] = prefix;
          expect(checkEcPoint(point, curve)).to.equal('must start with 0x04 (uncompressed point encoding)');
        });
      }

      it('refuses a point moved off the curve (y + 1)', () => {
        const { point } = randomEcPoint(curve);
        const { x, y } = coordinates(point, curve);
        const offCurve = encode(curve, x, (y + 1n) % FIELD_PRIME[curve]);
        expect(checkEcPoint(offCurve, curve)).to.equal(`is not a point on ${curve}`);
      });

      it('refuses x and y equal to the field prime p', () => {
        const p = FIELD_PRIME[curve];
        expect(checkEcPoint(encode(curve, p, p), curve)).to.equal(
          `is not a point on ${curve} (coordinate out of range)`,
        );
      });

      it('refuses a valid x with y equal to p, and x equal to p with a valid y', () => {
        const { point } = randomEcPoint(curve);
        const { x, y } = coordinates(point, curve);
        const p = FIELD_PRIME[curve];
        expect(checkEcPoint(encode(curve, x, p), curve)).to.include('coordinate out of range');
        expect(checkEcPoint(encode(curve, p, y), curve)).to.include('coordinate out of range');
      });

      it('refuses all-zero coordinates', () => {
        const zeros = Buffer.alloc(length);
        zeros[0] = 0x04;
        expect(checkEcPoint(zeros, curve)).to.equal(`is not a point on ${curve}`);
      });

      it('refuses all-ones coordinates (out of range)', () => {
        const ones = Buffer.alloc(length, 0xff);
        ones[0] = 0x04;
        expect(checkEcPoint(ones, curve)).to.include('coordinate out of range');
      });
    });
  }

  it('refuses an unreduced P-521 point (x + p, y + p) that satisfies the equation modulo p', () => {
    // P-521 coordinates are 66 bytes (528 bits), so x + p still fits: only the range check can refuse it.
    const { point } = randomEcPoint('P-521');
    const { x, y } = coordinates(point, 'P-521');
    const p = FIELD_PRIME['P-521'];
    expect(checkEcPoint(encode('P-521', x + p, y), 'P-521')).to.include('coordinate out of range');
    expect(checkEcPoint(encode('P-521', x, y + p), 'P-521')).to.include('coordinate out of range');
  });

  it('refuses a valid P-256 point checked as P-384 or P-521 even when padded to their length', () => {
    const { point } = randomEcPoint('P-256');
    const { x, y } = coordinates(point, 'P-256');
    expect(checkEcPoint(encode('P-384', x, y), 'P-384')).to.equal('is not a point on P-384');
    expect(checkEcPoint(encode('P-521', x, y), 'P-521')).to.equal('is not a point on P-521');
  });

  it('never echoes the input bytes in its messages', () => {
    const refusals: Array<{ bytes: Buffer; curve: CurveName }> = [];
    for (const curve of CURVE_NAMES) {
      const { point } = randomEcPoint(curve);
      const { x, y } = coordinates(point, curve);
      const p = FIELD_PRIME[curve];
      const wrongPrefix = Buffer.from(point);
      wrongPrefix[0] = 0x02;
      refusals.push(
        { bytes: point.subarray(0, point.length - 1), curve },
        { bytes: Buffer.concat([point, Buffer.from([0xab])]), curve },
        { bytes: wrongPrefix, curve },
        { bytes: encode(curve, x, (y + 1n) % p), curve },
        { bytes: encode(curve, p, y), curve },
      );
    }
    for (const { bytes, curve } of refusals) {
      const message = checkEcPoint(bytes, curve);
      expect(message, 'refused').to.be.a('string');
      const coordinate = bytes.subarray(1, 9);
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        expect(message).not.to.include(bytes.toString(encoding));
        expect(message).not.to.include(coordinate.toString(encoding));
      }
      // Nor any other rendering of them: no long run of hex digits (which covers decimal too).
      expect(message).not.to.match(/[0-9a-f]{12,}/i);
    }
  });
});
