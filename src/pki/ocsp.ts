import 'reflect-metadata';
import { createHash, verify as verifySignature, X509Certificate } from 'node:crypto';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { certificateFields } from './der.js';
import { isValidAt } from './validity.js';

/** Why a response cannot be relied on (each is a refusal under hard-fail, like an unreachable responder). */
export class OcspError extends Error {
  override readonly name = 'OcspError';
}

export type OcspStatus = 'good' | 'revoked' | 'unknown';

export interface OcspAnswer {
  readonly status: OcspStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** Until when the answer may be relied on: nextUpdate, or thisUpdate + maxAge when the responder gave none. */
  readonly validUntil: Date;
}

/** Clock skew tolerated between this server and OCSP responders on thisUpdate and nextUpdate. */
export const OCSP_CLOCK_SKEW_MS = 5 * 60_000;

const SHA1_OID = '1.3.14.3.2.26';

/** Signature algorithms an OCSP response may use, by OID: the hash, and whether the key is RSA or EC. */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { hash: string; key: 'rsa' | 'ec' }>> = {
  '1.2.840.113549.1.1.5': { hash: 'sha1', key: 'rsa' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa' },
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec' },
};

const sha1 = (data: Buffer): Buffer => createHash('sha1').update(data).digest();

/** The CertID of `certificate` issued by `issuer` (RFC 6960 4.1.1), with SHA-1 as every responder accepts. */
function certId(certificate: X509Certificate, issuer: X509Certificate): CertID {
  const issuerFields = certificateFields(issuer.raw);
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1_OID, parameters: null }),
    issuerNameHash: new OctetString(sha1(issuerFields.subject)),
    issuerKeyHash: new OctetString(sha1(issuerFields.publicKeyBits)),
    serialNumber: new Uint8Array(certificateFields(certificate.raw).serialNumber).buffer,
  });
}

/** A DER OCSPRequest for one certificate (no nonce: responses are cached until nextUpdate anyway). */
export function createOcspRequest(certificate: X509Certificate, issuer: X509Certificate): Buffer {
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId(certificate, issuer) })] }),
  });
  return Buffer.from(AsnConvert.serialize(request));
}

/** The OCSP responder URL of the certificate's Authority Information Access extension, if any. */
export function ocspUrlOf(certificate: X509Certificate): string | undefined {
  const aia = new x509.X509Certificate(certificate.raw).getExtension(x509.AuthorityInfoAccessExtension);
  const name = aia?.ocsp.find((entry) => entry.type === 'url');
  return name ? name.value : undefined;
}

const bytesEqual = (a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array): boolean =>
  Buffer.from(a instanceof Uint8Array ? a : new Uint8Array(a)).equals(
    Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)),
  );

/** True when `responder` may sign for `issuer`: the issuer itself, or a certificate it issued for OCSP signing. */
function isAuthorisedResponder(responder: X509Certificate, issuer: X509Certificate, now: Date): boolean {
  if (responder.raw.equals(issuer.raw)) {
    return true;
  }
  return (
    responder.checkIssued(issuer) &&
    responder.verify(issuer.publicKey) &&
    isValidAt(responder, now) &&
    (responder.keyUsage ?? []).includes(id_kp_OCSPSigning)
  );
}

export interface VerifyOptions {
  readonly now: Date;
  /** Clock skew tolerated on thisUpdate and nextUpdate. */
  readonly skewMs: number;
  /** For responses without nextUpdate: how old thisUpdate may be. */
  readonly maxAgeMs: number;
}

/**
 * Parses and verifies an OCSP response for `certificate` (RFC 6960 4.2 and 3.2): successful status, a basic
 * response, signed by the issuer or by a delegated responder the issuer certified for OCSP signing, a
 * SingleResponse whose CertID is this certificate's, and fresh (thisUpdate not in the future, nextUpdate not
 * passed, or, without nextUpdate, thisUpdate not older than maxAge). Throws OcspError otherwise.
 */
export function verifyOcspResponse(
  der: Buffer,
  certificate: X509Certificate,
  issuer: X509Certificate,
  { now, skewMs, maxAgeMs }: VerifyOptions,
): OcspAnswer {
  let basic: BasicOCSPResponse;
  try {
    const response = AsnConvert.parse(der, OCSPResponse);
    if (response.responseStatus !== OCSPResponseStatus.successful || !response.responseBytes) {
      throw new OcspError(`the responder answered ${OCSPResponseStatus[response.responseStatus] ?? 'an error'}`);
    }
    if (response.responseBytes.responseType !== id_pkix_ocsp_basic) {
      throw new OcspError('the response is not a basic OCSP response');
    }
    basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  } catch (error) {
    throw error instanceof OcspError ? error : new OcspError('the response does not parse');
  }

  const algorithm = SIGNATURE_ALGORITHMS[basic.signatureAlgorithm.algorithm];
  const signed = basic.tbsResponseDataRaw
    ? Buffer.from(basic.tbsResponseDataRaw)
    : Buffer.from(AsnConvert.serialize(basic.tbsResponseData));
  if (!algorithm) {
    throw new OcspError(`the response uses an unsupported signature algorithm ${basic.signatureAlgorithm.algorithm}`);
  }
  const candidates = [
    issuer,
    ...(basic.certs ?? []).map((certificate) => new X509Certificate(Buffer.from(AsnConvert.serialize(certificate)))),
  ];
  const signer = candidates.find(
    (candidate) =>
      isAuthorisedResponder(candidate, issuer, now) &&
      candidate.publicKey.asymmetricKeyType === algorithm.key &&
      verifySignature(algorithm.hash, signed, candidate.publicKey, Buffer.from(basic.signature)),
  );
  if (!signer) {
    throw new OcspError('the response is not signed by the issuer or a responder it authorised');
  }

  const expected = certId(certificate, issuer);
  const single = basic.tbsResponseData.responses.find((candidate) => {
    const id = candidate.certID;
    const hash = id.hashAlgorithm.algorithm === SHA1_OID ? sha1 : undefined;
    return (
      hash !== undefined &&
      bytesEqual(id.issuerNameHash.buffer, expected.issuerNameHash.buffer) &&
      bytesEqual(id.issuerKeyHash.buffer, expected.issuerKeyHash.buffer) &&
      bytesEqual(id.serialNumber, expected.serialNumber)
    );
  });
  if (!single) {
    throw new OcspError('the response does not answer for this certificate');
  }
  const thisUpdate = single.thisUpdate;
  const nextUpdate = single.nextUpdate;
  if (thisUpdate.getTime() > now.getTime() + skewMs) {
    throw new OcspError('the response is from the future (thisUpdate)');
  }
  if (nextUpdate ? nextUpdate.getTime() + skewMs < now.getTime() : thisUpdate.getTime() + maxAgeMs < now.getTime()) {
    throw new OcspError('the response is stale');
  }
  const status: OcspStatus =
    single.certStatus.good !== undefined ? 'good' : single.certStatus.revoked ? 'revoked' : 'unknown';
  const validUntil = nextUpdate ?? new Date(thisUpdate.getTime() + maxAgeMs);
  return { status, thisUpdate, nextUpdate, validUntil };
}

/** The largest OCSP response read; real ones are a few kilobytes. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs an OCSP request (RFC 6960 A.1) and returns the body; throws on any transport problem or timeout. */
export async function fetchOcspResponse(url: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
    body: request,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) {
    throw new OcspError(`the responder answered HTTP ${response.status}`);
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length > MAX_RESPONSE_BYTES) {
    throw new OcspError('the response is too large');
  }
  return bytes;
}
