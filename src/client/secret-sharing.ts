import { randomBytes } from 'node:crypto';

/**
 * Splitting a key-encryption key across shares servers (CDOC2 spec "CDOC2 encryption schemes"
 * > "Encryption schemes with secret sharing"):
 *
 * - n-of-n XOR (scheme SC07): shares 2..n are random, share 1 is the secret XOR all the others. Each share is
 *   exactly as long as the secret, as the Java reference client writes it.
 * - t-of-n Shamir over GF(2^8) (scheme SC08, work in progress in the specification): each byte of the secret is
 *   the constant term of its own random polynomial of degree t-1; share i is the point x = i. A share is written
 *   `x || y`, one byte longer than the secret, so that the recipient needs nothing but the shares themselves.
 *
 * Written here (a page of code, fully tested) rather than taken from a package: the field arithmetic is
 * small, and an npm Shamir implementation would be a dependency with access to every key this client handles.
 */

export class SecretSharingError extends Error {
  override readonly name = 'SecretSharingError';
}

export function xorSplit(
  secret: Uint8Array,
  n: number,
  random: (length: number) => Uint8Array = randomBytes,
): Uint8Array[] {
  if (!Number.isInteger(n) || n < 1) {
    throw new SecretSharingError('n-of-n splitting needs at least one share');
  }
  const others = Array.from({ length: n - 1 }, () => Uint8Array.from(random(secret.length)));
  return [xorAll([secret, ...others]), ...others];
}

/** XOR of equally long byte arrays: recombines an n-of-n split. */
export function xorAll(shares: readonly Uint8Array[]): Uint8Array {
  const [first] = shares;
  if (!first) {
    throw new SecretSharingError('there is no share to combine');
  }
  const result = new Uint8Array(first.length);
  for (const share of shares) {
    if (share.length !== first.length) {
      throw new SecretSharingError('the shares differ in length');
    }
    for (let i = 0; i < result.length; i++) {
      result[i] = (result[i] ?? 0) ^ (share[i] ?? 0);
    }
  }
  return result;
}

// GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11b); 3 generates the multiplicative group.
const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let value = 1;
  for (let power = 0; power < 255; power++) {
    EXP[power] = value;
    EXP[power + 255] = value;
    LOG[value] = power;
    // value *= 3, i.e. value ^ (value * 2), with the reduction.
    const doubled = (value << 1) ^ (value & 0x80 ? 0x11b : 0);
    value = doubled ^ value;
  }
}

/** Multiplication in GF(2^8). */
export const gfMul = (a: number, b: number): number =>
  a === 0 || b === 0 ? 0 : (EXP[(LOG[a] ?? 0) + (LOG[b] ?? 0)] ?? 0);

/** Division in GF(2^8); b must not be zero. */
export const gfDiv = (a: number, b: number): number => {
  if (b === 0) {
    throw new RangeError('division by zero in GF(256)');
  }
  return a === 0 ? 0 : (EXP[(LOG[a] ?? 0) + 255 - (LOG[b] ?? 0)] ?? 0);
};

export function shamirSplit(
  secret: Uint8Array,
  threshold: number,
  n: number,
  random: (length: number) => Uint8Array = randomBytes,
): Uint8Array[] {
  if (!Number.isInteger(n) || !Number.isInteger(threshold) || threshold < 2 || n < threshold || n > 255) {
    throw new SecretSharingError(`t-of-n needs 2 <= t <= n <= 255 (t = ${threshold}, n = ${n})`);
  }
  if (secret.length === 0) {
    throw new SecretSharingError('the secret is empty');
  }
  // coefficients[j] holds the degree j+1 coefficients of every byte's polynomial.
  const coefficients = Array.from({ length: threshold - 1 }, () => Uint8Array.from(random(secret.length)));
  return Array.from({ length: n }, (_, index) => {
    const x = index + 1;
    const share = new Uint8Array(secret.length + 1);
    share[0] = x;
    for (let byte = 0; byte < secret.length; byte++) {
      // Horner: ((c_{t-1} x + c_{t-2}) x + …) x + secret.
      let y = 0;
      for (let j = coefficients.length - 1; j >= 0; j--) {
        y = gfMul(y ^ (coefficients[j]?.[byte] ?? 0), x);
      }
      share[byte + 1] = y ^ (secret[byte] ?? 0);
    }
    return share;
  });
}

/** The value at `x` of the polynomial through `points` (Lagrange interpolation over GF(2^8)), byte by byte. */
function interpolate(points: readonly Uint8Array[], x: number): Uint8Array {
  const length = (points[0]?.length ?? 1) - 1;
  const result = new Uint8Array(length);
  points.forEach((point, i) => {
    const xi = point[0] ?? 0;
    // The Lagrange basis polynomial of point i, at x. In GF(2^8) subtraction is XOR.
    let basis = 1;
    points.forEach((other, j) => {
      if (i !== j) {
        const xj = other[0] ?? 0;
        basis = gfMul(basis, gfDiv(x ^ xj, xi ^ xj));
      }
    });
    for (let byte = 0; byte < length; byte++) {
      result[byte] = (result[byte] ?? 0) ^ gfMul(point[byte + 1] ?? 0, basis);
    }
  });
  return result;
}

/**
 * Recovers the secret from at least `threshold` Shamir shares. With more than `threshold` shares, every extra one
 * must lie on the same polynomial: a share altered in storage or in transit is detected instead of silently
 * yielding a wrong key (with exactly `threshold` shares no such check is possible).
 */
export function shamirCombine(shares: readonly Uint8Array[], threshold: number): Uint8Array {
  if (!Number.isInteger(threshold) || threshold < 2) {
    throw new SecretSharingError(`the threshold must be at least 2 (got ${threshold})`);
  }
  if (shares.length < threshold) {
    throw new SecretSharingError(`${shares.length} shares cannot recover a ${threshold}-of-n secret`);
  }
  const [first] = shares;
  const seen = new Set<number>();
  for (const share of shares) {
    const x = share[0] ?? 0;
    if (share.length < 2 || share.length !== first?.length) {
      throw new SecretSharingError('the shares differ in length or are too short');
    }
    if (x === 0 || seen.has(x)) {
      throw new SecretSharingError('a share has the index 0 or an index of another share');
    }
    seen.add(x);
  }
  const basis = shares.slice(0, threshold);
  for (const extra of shares.slice(threshold)) {
    const expected = interpolate(basis, extra[0] ?? 0);
    if (!Buffer.from(expected).equals(Buffer.from(extra.subarray(1)))) {
      throw new SecretSharingError('the shares are inconsistent: at least one of them was altered');
    }
  }
  return interpolate(basis, 0);
}
