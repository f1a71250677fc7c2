import { randomBytes } from 'node:crypto';
import { disclosureDigest } from './sd-jwt.js';

/**
 * The holder side of the CDOC2 auth ticket (README "The auth ticket"): the recipient builds ONE
 * SD-JWT whose selectively disclosable `aud` lists every server's share URL as an array-element disclosure, has it
 * signed once, and shows each server only the `aud` disclosure plus that server's own URL disclosure. The
 * verifier side (sd-jwt.ts, auth/auth-ticket-verifier.ts) reads exactly what this writes.
 */
export const AUTH_TICKET_TYP = 'vnd.cdoc2.auth-token.v1+sd-jwt';

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

/** A disclosure as the Java library writes it: a JSON array, base64url without padding. */
export const encodeDisclosure = (elements: readonly unknown[]): string => b64url(JSON.stringify(elements));

/** 16 random bytes of salt, base64url (RFC 9901 section 4.2.1 asks for at least 128 bits). */
const randomSalt = (): string => b64url(randomBytes(16));

export interface TicketContent {
  /** `etsi/PNOEE-…`: the recipient the signer's certificate must name. */
  readonly iss: string;
  /** The JWS algorithm of the signer's key (RS256, ES256, ES384, ES512, PS256…). */
  readonly alg: string;
  /** One URL per server: `<base>/key-shares/<shareId>?nonce=<nonce>`. */
  readonly urls: readonly string[];
  /** Defaults to AUTH_TICKET_TYP; tests change it to check refusals. */
  readonly typ?: string;
  /** Extra payload members (tests only: attacks that add or replace claims). */
  readonly extraClaims?: Readonly<Record<string, unknown>>;
  /** Salt source; random by default. */
  readonly salt?: () => string;
}

/** A ticket before its signature: what the signer signs, and the disclosures to present afterwards. */
export interface UnsignedTicket {
  /** `<base64url header>.<base64url payload>`, the JWS signing input (ASCII). */
  readonly signingInput: string;
  /** `[salt, "aud", [{"...": digest}, …]]`, presented to every server. */
  readonly audDisclosure: string;
  /** `[salt, url]`, one per server, in the order of `urls`. */
  readonly urlDisclosures: readonly string[];
}

export function prepareAuthTicket(content: TicketContent): UnsignedTicket {
  const salt = content.salt ?? randomSalt;
  const urlDisclosures = content.urls.map((url) => encodeDisclosure([salt(), url]));
  const audDisclosure = encodeDisclosure([
    salt(),
    'aud',
    urlDisclosures.map((disclosure) => ({ '...': disclosureDigest(disclosure) })),
  ]);
  // No iat/exp: freshness comes from each server's one-time nonce (README "The auth ticket").
  const header = { typ: content.typ ?? AUTH_TICKET_TYP, alg: content.alg };
  const payload = {
    iss: content.iss,
    _sd: [disclosureDigest(audDisclosure)],
    _sd_alg: 'sha-256',
    ...content.extraClaims,
  };
  return {
    signingInput: `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`,
    audDisclosure,
    urlDisclosures,
  };
}

/** The compact JWS `<signingInput>.<base64url signature>`. */
export const signedJwt = (ticket: UnsignedTicket, signature: Uint8Array): string =>
  `${ticket.signingInput}.${b64url(signature)}`;

/** What server `index` receives: `<jwt>~<aud disclosure>~<its url disclosure>~`, and nothing of the others. */
export function presentationFor(jwt: string, ticket: UnsignedTicket, index: number): string {
  const disclosure = ticket.urlDisclosures[index];
  if (disclosure === undefined) {
    throw new RangeError(`the ticket has no URL ${index}`);
  }
  return `${jwt}~${ticket.audDisclosure}~${disclosure}~`;
}

/**
 * The URL a ticket names for one share (README "The auth ticket"): the server's public base URL (with any base
 * path), `/key-shares/`, the share id, and the nonce the server issued for it.
 */
export function shareTicketUrl(baseUrl: string, shareId: string, nonce: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `${base}/key-shares/${encodeURIComponent(shareId)}?nonce=${encodeURIComponent(nonce)}`;
}
