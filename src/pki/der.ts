/**
 * A minimal DER reader: just enough to take the exact bytes of fields out of a certificate (RFC 5280 4.1), which
 * OCSP's CertID hashes (RFC 6960 4.1.1: the issuer's subject Name as encoded, and its public key bits). Re-encoding
 * a parsed Name could change string types and so the hash; reading the original bytes cannot.
 */
export interface Tlv {
  readonly tag: number;
  /** The whole element: tag, length and contents. */
  readonly raw: Buffer;
  readonly contents: Buffer;
}

export function readTlv(buffer: Buffer, offset = 0): Tlv {
  const tag = buffer[offset];
  const first = buffer[offset + 1];
  if (tag === undefined || first === undefined) {
    throw new Error('DER: truncated');
  }
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) {
      throw new Error('DER: unsupported length');
    }
    length = 0;
    for (let i = 0; i < count; i++) {
      length = length * 256 + (buffer[offset + 2 + i] ?? 0);
    }
    header += count;
  }
  const end = offset + header + length;
  if (end > buffer.length) {
    throw new Error('DER: truncated');
  }
  return { tag, raw: buffer.subarray(offset, end), contents: buffer.subarray(offset + header, end) };
}

/** The elements of a constructed element's contents, in order. */
export function children(contents: Buffer): Tlv[] {
  const result: Tlv[] = [];
  for (let offset = 0; offset < contents.length;) {
    const tlv = readTlv(contents, offset);
    result.push(tlv);
    offset += tlv.raw.length;
  }
  return result;
}

export interface CertificateFields {
  /** The serial number's contents bytes (as in the INTEGER). */
  readonly serialNumber: Buffer;
  /** The subject Name, tag and length included. */
  readonly subject: Buffer;
  /** The subjectPublicKey BIT STRING's value, without the unused-bits byte. */
  readonly publicKeyBits: Buffer;
}

export function certificateFields(der: Buffer): CertificateFields {
  const [tbs] = children(readTlv(der).contents);
  if (!tbs) {
    throw new Error('DER: not a certificate');
  }
  const fields = children(tbs.contents);
  // [0] EXPLICIT version is optional (absent for v1 certificates).
  const start = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[start];
  const subject = fields[start + 4];
  const spki = fields[start + 5];
  const bits = spki ? children(spki.contents)[1] : undefined;
  if (!serial || !subject || !bits) {
    throw new Error('DER: not a certificate');
  }
  return { serialNumber: serial.contents, subject: subject.raw, publicKeyBits: bits.contents.subarray(1) };
}
