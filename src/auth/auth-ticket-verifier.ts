import { compactVerify, decodeProtectedHeader } from 'jose';
import { unauthenticated } from '../domain/errors.js';
import { disclose, SdJwtError, splitPresentation } from '../domain/shares/sd-jwt.js';
import type { CertificateTrust } from '../domain/certificate-trust.js';
import { matchTicketUrl, type BaseUrl } from '../domain/shares/ticket-url.js';
import type { TicketVerifier, VerifiedTicket } from '../domain/shares/ticket-verifier.js';
import { allowedAlgorithms, parseSignerCertificate } from './signer-certificate.js';

import { AUTH_TICKET_TYP } from '../domain/shares/auth-ticket.js';

/** The media type of the CDOC2 auth ticket (README "The auth ticket"), written by the holder side. */
export { AUTH_TICKET_TYP };

export interface AuthTicketPolicy {
  /** This server's public base URLs, from configuration only. */
  readonly baseUrls: readonly BaseUrl[];
  readonly trust: CertificateTrust;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Verifies an auth ticket in exactly the order of README "What the shares server verifies" (steps 1 to 7; the share
 * service does the database steps 7 to 9). Any failure ends the request with 401 / UNAUTHENTICATED and a message
 * that names the check, never the ticket's content. The JWS signature is checked by jose, a maintained library;
 * the SD-JWT disclosure rules are ours (src/domain/shares/sd-jwt.ts), tested to the byte.
 */
export function createAuthTicketVerifier({ baseUrls, trust }: AuthTicketPolicy): TicketVerifier {
  return {
    async verify({ ticket, x5c, shareId, now }): Promise<VerifiedTicket> {
      // 1. The certificate parses and is an authentication certificate.
      const signer = parseSignerCertificate(x5c);
      // 2. It chains to a trusted issuer and is valid now.
      await trust.assertTrusted(signer.der, now);
      // 3. The JWS signature verifies with the certificate's key, with an algorithm that key allows.
      let presentation;
      try {
        presentation = splitPresentation(ticket);
      } catch (error) {
        throw unauthenticated((error as Error).message);
      }
      let header;
      try {
        header = decodeProtectedHeader(presentation.jwt);
      } catch {
        throw unauthenticated('the ticket is not a JWS');
      }
      const algorithms = allowedAlgorithms(signer.publicKey);
      if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
        throw unauthenticated(`the ticket's alg ${String(header.alg)} is not allowed for the certificate's key`);
      }
      let payloadBytes: Uint8Array;
      try {
        ({ payload: payloadBytes } = await compactVerify(presentation.jwt, signer.publicKey, { algorithms }));
      } catch {
        throw unauthenticated('the ticket signature does not verify with the auth certificate');
      }
      // 4. typ is exact; iss is etsi/ + the certificate's subject serialNumber.
      if (header.typ !== AUTH_TICKET_TYP) {
        throw unauthenticated(`the ticket typ must be ${AUTH_TICKET_TYP}`);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.from(payloadBytes).toString('utf8'));
      } catch {
        throw unauthenticated('the ticket payload is not JSON');
      }
      if (!isRecord(payload) || typeof payload['iss'] !== 'string') {
        throw unauthenticated('the ticket has no iss');
      }
      const recipient = payload['iss'];
      if (recipient !== `etsi/${signer.subjectSerialNumber}`) {
        throw unauthenticated('the ticket iss does not match the auth certificate');
      }
      // 5. Every presented disclosure is referenced; aud is then exactly one URL.
      if (Object.hasOwn(payload, 'aud')) {
        throw unauthenticated('the ticket aud must be selectively disclosed');
      }
      let claims;
      try {
        claims = disclose(payload, presentation.disclosures);
      } catch (error) {
        if (error instanceof SdJwtError) {
          throw unauthenticated(error.message);
        }
        throw error;
      }
      const aud = claims['aud'];
      if (!Array.isArray(aud) || aud.length !== 1 || typeof aud[0] !== 'string') {
        throw unauthenticated('the ticket must disclose exactly one aud URL');
      }
      // 6. The URL's base is one of this server's configured base URLs.
      const target = matchTicketUrl(aud[0], baseUrls);
      if ('error' in target) {
        throw unauthenticated(target.error);
      }
      // 7. The URL names the requested share.
      if (target.shareId !== shareId) {
        throw unauthenticated('the ticket is for another key share');
      }
      return { recipient, shareId: target.shareId, nonce: target.nonce };
    },
  };
}
