/** A cryptographically secure random source (a port: `main` wires it to node:crypto). */
export interface RandomSource {
  bytes(length: number): Uint8Array;
}

export const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
