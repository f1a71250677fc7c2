import type { RandomSource } from '../../src/domain/random.js';

/** A random source whose calls can be counted and told apart. */
export interface CountingRandom extends RandomSource {
  /** The length asked for by each call, in order. */
  readonly lengths: number[];
  readonly calls: number;
}

/** Deterministic bytes: call n fills its buffer with (n * 31 + i) mod 256, so every call differs. */
export function countingRandom(): CountingRandom {
  const lengths: number[] = [];
  return {
    lengths,
    get calls() {
      return lengths.length;
    },
    bytes(length: number): Uint8Array {
      lengths.push(length);
      const call = lengths.length;
      return Uint8Array.from({ length }, (_, i) => (call * 31 + i) % 256);
    },
  };
}
