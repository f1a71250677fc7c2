import { X509Certificate } from 'node:crypto';
import type { RecipientKey } from '../../domain/capsules/recipient-key.js';
import { coordinateLength, type CurveName } from '../../domain/ec-point.js';

/** OpenSSL's curve names for the curves CDOC2 uses. */
const CURVES: Readonly<Record<string, CurveName>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

const leftPad = (bytes: Buffer, length: number): Buffer =>
  bytes.length >= length ? bytes : Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);

/**
 * The public key of a TLS client certificate, in the encodings capsules store (CDOC2 spec "CDOC2 CCS"
 * > "The KeyServerCapsule authentication scheme"): EC keys as 0x04 || X || Y with each coordinate left-padded to the
 * curve's size, RSA keys as DER PKCS#1. node:crypto reads both; node-forge could read only the RSA ones.
 */
export function recipientKeyFromCertificate(der: Buffer): RecipientKey {
  const key = new X509Certificate(der).publicKey;
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    const jwk = key.export({ format: 'jwk' });
    if (!curve || !jwk.x || !jwk.y) {
      return { kind: 'unsupported' };
    }
    const size = coordinateLength(curve);
    const point = Buffer.concat([
      Buffer.from([0x04]),
      leftPad(Buffer.from(jwk.x, 'base64url'), size),
      leftPad(Buffer.from(jwk.y, 'base64url'), size),
    ]);
    return { kind: 'ec', curve, point };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { kind: 'rsa', pkcs1: key.export({ type: 'pkcs1', format: 'der' }) };
  }
  return { kind: 'unsupported' };
}
