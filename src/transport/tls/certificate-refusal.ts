import type { TLSSocket } from 'node:tls';
import type { CertificateRefusalReason, CertificateRefusals } from '../../domain/certificate-trust.js';
import type { Logger } from '../../logging/logger.js';

/** OpenSSL's verification results that mean "outside its validity period". */
const EXPIRED = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);

export interface SocketVerdict {
  readonly trusted: boolean;
  readonly reason?: CertificateRefusalReason;
  /** OpenSSL's verification result, safe to log and to send (it names no person). */
  readonly detail?: string;
  readonly serial?: string;
  /** The client certificate (DER), when there is one. */
  readonly der?: Buffer;
}

/**
 * What TLS concluded about the client certificate of a mutual-TLS connection (the listener asks for one but
 * lets the handshake finish, so that the refusal can be logged, counted and, on REST, answered with a 401).
 */
export function judgeClientSocket(socket: TLSSocket): SocketVerdict {
  const certificate = socket.getPeerCertificate();
  // A destroyed socket (the client went away) has no certificate any more.
  const der = certificate?.raw;
  if (!der) {
    return { trusted: false, reason: 'missing', detail: 'no client certificate' };
  }
  const serial = certificate.serialNumber;
  if (socket.authorized) {
    return { trusted: true, serial, der };
  }
  const detail = String(socket.authorizationError);
  return { trusted: false, reason: EXPIRED.has(detail) ? 'expired' : 'untrusted', detail, serial, der };
}

/** The one log line and the metric of a refusal decided by TLS (certificate-trust.ts logs its own the same way). */
export function reportRefusal(
  logger: Pick<Logger, 'warn'>,
  refusals: CertificateRefusals | undefined,
  listener: string,
  verdict: SocketVerdict,
): void {
  const reason = verdict.reason ?? 'untrusted';
  logger.warn(
    { certificate: 'client certificate', listener, kind: reason, reason: verdict.detail, serial: verdict.serial },
    'certificate refused',
  );
  refusals?.refused(reason);
}
