/** A key share as the sender submits it (openapi/key-shares.yaml, `KeyShare`). */
export interface KeyShare {
  readonly share: Uint8Array;
  readonly recipient: string;
}

export interface StoredShare extends KeyShare {
  readonly shareId: string;
  readonly expiryTime: Date;
  readonly expiryTimeAdjusted: boolean;
  readonly createdAt: Date;
}

/** A nonce issued for one share (README "What the shares server verifies" step 8). */
export interface ShareNonce {
  readonly shareId: string;
  readonly nonce: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export const SHARE_MIN_BYTES = 32;
export const SHARE_MAX_BYTES = 128;
export const RECIPIENT_MIN_LENGTH = 12;
export const RECIPIENT_MAX_LENGTH = 32;
export const SHARE_ID_MIN_LENGTH = 18;
export const SHARE_ID_MAX_LENGTH = 34;

/**
 * Recipient identifiers (CDOC2 spec "CDOC2 CSS" > "ETSI semantics identifier" and "Private company issuer identifier"):
 * - `etsi/` + ETSI EN 319 412-1 semantics identifier: type PNO/IDC/PAS, ISO 3166 country, `-`, identifier
 *   (at most 20 characters), e.g. `etsi/PNOEE-48010010101`;
 * - `private/` + vendor code + `/` + identifier (at most 20 characters), e.g. `private/JIO/70000349`.
 */
const ETSI = /^etsi\/(?:PNO|IDC|PAS)[A-Z]{2}-[0-9A-Za-z][0-9A-Za-z-]{0,19}$/;
const PRIVATE = /^private\/[0-9A-Za-z]{1,10}\/[0-9A-Za-z][0-9A-Za-z-]{0,19}$/;

/** Returns a client-facing reason why `recipient` is not an acceptable identifier, or undefined. */
export function checkRecipient(recipient: string): string | undefined {
  if (recipient.length < RECIPIENT_MIN_LENGTH || recipient.length > RECIPIENT_MAX_LENGTH) {
    return `must be ${RECIPIENT_MIN_LENGTH} to ${RECIPIENT_MAX_LENGTH} characters, got ${recipient.length}`;
  }
  if (!ETSI.test(recipient) && !PRIVATE.test(recipient)) {
    return 'must be etsi/<PNO|IDC|PAS><country>-<identifier> (e.g. etsi/PNOEE-48010010101) or private/<vendor>/<identifier>';
  }
  return undefined;
}
