import type { X509Certificate } from 'node:crypto';

/** True when `now` is within the certificate's validity period (RFC 5280 4.1.2.5). */
export const isValidAt = (certificate: X509Certificate, now: Date): boolean =>
  new Date(certificate.validFrom).getTime() <= now.getTime() &&
  now.getTime() <= new Date(certificate.validTo).getTime();
