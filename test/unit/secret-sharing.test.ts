import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  gfDiv,
  gfMul,
  SecretSharingError,
  shamirCombine,
  shamirSplit,
  xorAll,
  xorSplit,
} from '../../src/client/secret-sharing.js';

/** Every k-element subset of [0, n). */
function subsets(n: number, k: number): number[][] {
  if (k === 0) {
    return [[]];
  }
  const result: number[][] = [];
  for (let first = 0; first <= n - k; first++) {
    for (const rest of subsets(n - first - 1, k - 1)) {
      result.push([first, ...rest.map((index) => index + first + 1)]);
    }
  }
  return result;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('GF(256) arithmetic (the AES field, polynomial 0x11b)', () => {
  it('multiplies as FIPS 197 section 4.2 shows ({57} x {83} = {c1}) and finds the inverse of {53} ({ca})', () => {
    expect(gfMul(0x57, 0x83)).to.equal(0xc1);
    expect(gfMul(0x53, 0xca)).to.equal(0x01);
    expect(gfDiv(1, 0x53)).to.equal(0xca);
  });

  it('divides as the inverse of multiplication for every pair of non-zero elements', () => {
    for (let a = 1; a < 256; a++) {
      for (let b = 1; b < 256; b++) {
        const product = gfMul(a, b);
        if (gfDiv(product, b) !== a) {
          expect.fail(`(${a} * ${b}) / ${b} != ${a}`);
        }
      }
    }
    expect(gfMul(0, 0x99)).to.equal(0);
    expect(() => gfDiv(5, 0)).to.throw(RangeError);
  });
});

describe('n-of-n XOR splitting (scheme SC07)', () => {
  it('recombines the secret from all shares, each as long as the secret, share 1 = secret XOR the others', () => {
    const secret = randomBytes(32);
    const shares = xorSplit(secret, 3);
    expect(shares.map((share) => share.length)).to.deep.equal([32, 32, 32]);
    expect(equal(xorAll(shares), secret)).to.equal(true);
    expect(equal(shares[0] ?? new Uint8Array(), xorAll([secret, shares[1] ?? secret, shares[2] ?? secret]))).to.equal(
      true,
    );
  });

  it('gives nothing of the secret with one share missing (the XOR of the others is not the secret)', () => {
    const secret = randomBytes(32);
    const shares = xorSplit(secret, 3);
    for (const missing of [0, 1, 2]) {
      expect(equal(xorAll(shares.filter((_, index) => index !== missing)), secret)).to.equal(false);
    }
  });

  it('refuses shares of different lengths and an empty set', () => {
    expect(() => xorAll([new Uint8Array(32), new Uint8Array(33)])).to.throw(SecretSharingError, /length/);
    expect(() => xorAll([])).to.throw(SecretSharingError);
  });
});

describe('t-of-n Shamir splitting over GF(256)', () => {
  it('recovers a 32-byte secret from every 3 of 5 shares, and from 4 and 5 of them', () => {
    const secret = randomBytes(32);
    const shares = shamirSplit(secret, 3, 5);
    expect(shares.map((share) => share[0])).to.deep.equal([1, 2, 3, 4, 5]);
    expect(shares.every((share) => share.length === 33)).to.equal(true);
    for (const k of [3, 4, 5]) {
      for (const subset of subsets(5, k)) {
        const recovered = shamirCombine(
          subset.map((index) => shares[index] ?? new Uint8Array()),
          3,
        );
        expect(equal(recovered, secret), `shares ${subset.join(',')}`).to.equal(true);
      }
    }
  });

  it('refuses to combine fewer shares than the threshold', () => {
    const shares = shamirSplit(randomBytes(32), 3, 5);
    expect(() => shamirCombine(shares.slice(0, 2), 3)).to.throw(SecretSharingError, /cannot recover/);
  });

  it('does not reveal the secret when two shares are interpolated as if the threshold were 2', () => {
    const secret = randomBytes(32);
    const shares = shamirSplit(secret, 3, 5);
    expect(equal(shamirCombine(shares.slice(0, 2), 2), secret)).to.equal(false);
  });

  it('detects an altered share when more shares than the threshold are given', () => {
    const shares = shamirSplit(randomBytes(32), 3, 5);
    const altered = Uint8Array.from(shares[4] ?? []);
    altered[7] = (altered[7] ?? 0) ^ 1;
    expect(() => shamirCombine([...shares.slice(0, 4), altered], 3)).to.throw(SecretSharingError, /inconsistent/);
  });

  it('matches a hand-computed 2-of-2 split with fixed coefficients (f(x) = s + c x)', () => {
    // secret {57}, coefficient {83}: f(1) = {57} ^ {83} = {d4}, f(2) = {57} ^ {83}*{02} = {57} ^ {1d} = {4a}.
    const shares = shamirSplit(Uint8Array.of(0x57), 2, 2, () => Uint8Array.of(0x83));
    expect(shares.map((share) => [...share])).to.deep.equal([
      [1, 0xd4],
      [2, 0x4a],
    ]);
    expect([...shamirCombine(shares, 2)]).to.deep.equal([0x57]);
  });

  it('refuses impossible parameters and duplicate or zero share indexes', () => {
    expect(() => shamirSplit(randomBytes(32), 1, 3)).to.throw(SecretSharingError);
    expect(() => shamirSplit(randomBytes(32), 4, 3)).to.throw(SecretSharingError);
    expect(() => shamirSplit(randomBytes(32), 2, 256)).to.throw(SecretSharingError);
    const [first = new Uint8Array(), second = new Uint8Array()] = shamirSplit(randomBytes(32), 2, 3);
    expect(() => shamirCombine([first, first], 2)).to.throw(SecretSharingError, /index/);
    const zero = Uint8Array.from(second);
    zero[0] = 0;
    expect(() => shamirCombine([first, zero], 2)).to.throw(SecretSharingError, /index/);
  });
});
