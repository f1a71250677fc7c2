import { X509Certificate } from 'node:crypto';

/**
 * Subject attributes that name an organisation or a place, never a person. The reference logs the DN without
 * the CN; an ID-card subject still carries the given name (GN), surname (SN) and personal code (serialNumber)
 * after that, so here only these are kept (README "Health, metrics, logs": never a personal name).
 */
const KEPT = new Set(['C', 'O', 'OU', 'L', 'ST', 'organizationIdentifier']);

/** The loggable part of a client certificate's subject, e.g. `C=EE, O=ESTEID`; undefined when nothing is left. */
export function subjectForLog(der: Buffer | undefined): string | undefined {
  if (!der) {
    return undefined;
  }
  try {
    const kept = new X509Certificate(der).subject
      .split('\n')
      .filter((attribute) => KEPT.has(attribute.slice(0, attribute.indexOf('='))));
    return kept.length > 0 ? kept.join(', ') : undefined;
  } catch {
    return undefined;
  }
}
