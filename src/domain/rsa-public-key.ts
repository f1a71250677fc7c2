import forge from 'node-forge';

/**
 * Strict validation of a DER-encoded PKCS#1 RSAPublicKey (RFC 8017 A.1.1: SEQUENCE { modulus INTEGER,
 * publicExponent INTEGER }), the `recipient_id` of an `rsa` capsule (openapi/key-capsules.yaml, `Capsule`).
 *
 * node-forge parses the ASN.1 (it handles RSA well; it is EC that it cannot read). On top of its parser we insist
 * on canonical DER: no trailing bytes, minimal lengths (checked by re-encoding and comparing byte for byte),
 * minimal, positive integers. Canonical form matters beyond hygiene: the recipient check compares this stored
 * encoding byte for byte with the PKCS#1 export of the client certificate's key, which is always canonical.
 */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 16384;

export interface RsaPublicKeyInfo {
  readonly modulusBits: number;
}

/** forge's parser takes an options object; its type declarations only know the older boolean form. */
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => forge.asn1.Asn1;

const isMinimalPositiveInteger = (value: string): boolean => {
  if (value.length === 0) {
    return false;
  }
  const first = value.charCodeAt(0);
  if (first & 0x80) {
    return false; // negative
  }
  // A leading zero byte is only allowed when it keeps the next byte's high bit from reading as a sign.
  return !(value.length > 1 && first === 0 && (value.charCodeAt(1) & 0x80) === 0);
};

/** Returns the key's size (within the bounds given, by default 2048 to 16384 bits), or a client-facing reason why the bytes are not an acceptable PKCS#1 RSA key. */
export function parseRsaPublicKey(
  der: Uint8Array,
  { minBits, maxBits }: { minBits: number; maxBits: number } = { minBits: MIN_RSA_BITS, maxBits: MAX_RSA_BITS },
): RsaPublicKeyInfo | { error: string } {
  const bytes = forge.util.binary.raw.encode(der);
  let node: forge.asn1.Asn1;
  try {
    node = fromDer(bytes, { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch {
    return { error: 'is not valid DER' };
  }
  if (forge.asn1.toDer(node).getBytes() !== bytes) {
    return { error: 'is not canonical DER' };
  }
  const children = node.value;
  if (
    node.tagClass !== forge.asn1.Class.UNIVERSAL ||
    node.type !== forge.asn1.Type.SEQUENCE ||
    !node.constructed ||
    !Array.isArray(children) ||
    children.length !== 2
  ) {
    return { error: 'is not a PKCS#1 RSAPublicKey (SEQUENCE of modulus and exponent)' };
  }
  const [modulus, exponent] = children as [forge.asn1.Asn1, forge.asn1.Asn1];
  for (const part of [modulus, exponent]) {
    if (
      part.tagClass !== forge.asn1.Class.UNIVERSAL ||
      part.type !== forge.asn1.Type.INTEGER ||
      part.constructed ||
      typeof part.value !== 'string' ||
      !isMinimalPositiveInteger(part.value)
    ) {
      return { error: 'is not a PKCS#1 RSAPublicKey (modulus and exponent must be positive DER INTEGERs)' };
    }
  }
  const n = new forge.jsbn.BigInteger(forge.util.bytesToHex(modulus.value as string), 16);
  const e = new forge.jsbn.BigInteger(forge.util.bytesToHex(exponent.value as string), 16);
  const modulusBits = n.bitLength();
  if (modulusBits < minBits || modulusBits > maxBits) {
    return { error: `is a ${modulusBits}-bit RSA key; ${minBits} to ${maxBits} bits are accepted` };
  }
  if (!n.testBit(0)) {
    return { error: 'is not a valid RSA key (even modulus)' };
  }
  if (!e.testBit(0) || e.compareTo(forge.jsbn.BigInteger.ONE) <= 0 || e.compareTo(n) >= 0) {
    return { error: 'is not a valid RSA key (the exponent must be odd, greater than 1 and less than the modulus)' };
  }
  return { modulusBits };
}
