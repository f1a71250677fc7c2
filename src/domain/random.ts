/** A cryptographically secure random source (a port: `main` wires it to node:crypto). */
export interface RandomSource {
  bytes(length: number): Uint8Array;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export const toHex = (bytes: Uint8Array): string => {
  let hex = '';
  for (const byte of bytes) {
    hex += HEX[byte] as string;
  }
  return hex;
};

/** Bytes drawn from the CSPRNG at once; 4 KiB serve 256 transaction ids. */
export const RANDOM_POOL_BYTES = 4096;

/**
 * A random source that fills a pool from `fill` (a CSPRNG, e.g. node:crypto's randomFillSync) and hands out
 * copies of consecutive, never reused slices. One CSPRNG call per 256 ids instead of one per id: the call's fixed
 * cost (a trip into OpenSSL) dominated the 16 bytes it produced. Requests larger than the pool go to `fill`
 * directly.
 */
export function createPooledRandom(
  fill: (buffer: Uint8Array) => void,
  poolBytes: number = RANDOM_POOL_BYTES,
): RandomSource {
  const pool = new Uint8Array(poolBytes);
  let offset = poolBytes;
  return {
    bytes(length) {
      const out = new Uint8Array(length);
      if (length > poolBytes) {
        fill(out);
        return out;
      }
      if (offset + length > poolBytes) {
        fill(pool);
        offset = 0;
      }
      out.set(pool.subarray(offset, offset + length));
      // Handed-out bytes are wiped from the pool, so that a later reader of the pool never sees an issued id.
      pool.fill(0, offset, offset + length);
      offset += length;
      return out;
    },
  };
}
