/**
 * Validation of uncompressed EC points (SEC 1 section 2.3.4, as TLS encodes them: 0x04 || X || Y) on the three
 * NIST curves that CDOC2 uses (openapi/key-capsules.yaml, `Capsule`). Pure BigInt arithmetic: the checks are
 * few and exact, and testing them against node:crypto keys (test/unit) shows the curve constants are right.
 *
 * Why not node:crypto (`ECDH.convertKey`, which validates the point in OpenSSL)? node:crypto would count as pure
 * here (it does no I/O), but it is 3 to 6 times slower, because it builds the curve's EC_GROUP on every call
 * (bench/ec-point-bench.ts times both). What made this function show in profiles was the byte-by-byte BigInt
 * conversion, now one hex parse.
 *
 * All three curves have cofactor 1, so a point that satisfies the curve equation with coordinates in [0, p) is in
 * the prime-order group: no separate subgroup check is needed.
 */
export type CurveName = 'P-256' | 'P-384' | 'P-521';

interface CurveParameters {
  /** Bytes of one coordinate: 32, 48, 66. */
  readonly coordinateBytes: number;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
}

const P256 = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P384 = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn;
const P521 = (1n << 521n) - 1n;

/** Curve parameters from SEC 2 / FIPS 186-4 D.1.2 (a = p - 3 on all three). */
const CURVES: Readonly<Record<CurveName, CurveParameters>> = {
  'P-256': {
    coordinateBytes: 32,
    p: P256,
    a: P256 - 3n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'P-384': {
    coordinateBytes: 48,
    p: P384,
    a: P384 - 3n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  'P-521': {
    coordinateBytes: 66,
    p: P521,
    a: P521 - 3n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

/** The exact length of an uncompressed point on the curve: 65, 97 or 133 bytes. */
export const ecPointLength = (curve: CurveName): number => 1 + 2 * CURVES[curve].coordinateBytes;

export const coordinateLength = (curve: CurveName): number => CURVES[curve].coordinateBytes;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Big-endian bytes to a BigInt through one hex parse (a shift per byte allocates a BigInt per byte). */
const toBigInt = (bytes: Uint8Array): bigint => {
  let hex = '0x0';
  for (const byte of bytes) {
    hex += HEX[byte] as string;
  }
  return BigInt(hex);
};

/**
 * Returns undefined when `point` is a valid uncompressed point on `curve`, otherwise a short reason suitable for a
 * client-facing message (it never echoes the bytes).
 */
export function checkEcPoint(point: Uint8Array, curve: CurveName): string | undefined {
  const { coordinateBytes, p, a, b } = CURVES[curve];
  const expected = 1 + 2 * coordinateBytes;
  if (point.length !== expected) {
    return `must be ${expected} bytes (an uncompressed ${curve} point), got ${point.length}`;
  }
  if (point[0] !== 0x04) {
    return `must start with 0x04 (uncompressed point encoding)`;
  }
  const x = toBigInt(point.subarray(1, 1 + coordinateBytes));
  const y = toBigInt(point.subarray(1 + coordinateBytes));
  if (x >= p || y >= p) {
    return `is not a point on ${curve} (coordinate out of range)`;
  }
  const left = (y * y) % p;
  const right = (((x * x) % p) * x + a * x + b) % p;
  if (left !== right) {
    return `is not a point on ${curve}`;
  }
  return undefined;
}
