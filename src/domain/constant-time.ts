/**
 * Compares two byte strings in time that depends only on their lengths, so that a recipient cannot learn how
 * much of a stored key matches theirs.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= (a[i] as number) ^ (b[i] as number);
  }
  return difference === 0;
}
