/** What a verified auth ticket establishes (README "What the shares server verifies" steps 1 to 7). */
export interface VerifiedTicket {
  /** `etsi/` + the signer certificate's subject serialNumber: the authenticated recipient. */
  readonly recipient: string;
  /** The share the ticket's URL names (already compared with the requested one). */
  readonly shareId: string;
  /** The nonce the ticket's URL carries; still to be consumed. */
  readonly nonce: string;
}

export interface TicketPresentation {
  /** The SD-JWT presentation for this server. */
  readonly ticket: string;
  /** The signer's certificate as sent: one-line PEM or base64url DER. */
  readonly x5c: string;
  /** The share id of the request. */
  readonly shareId: string;
  readonly now: Date;
}

/**
 * The port that checks an auth ticket up to, and including, its URL naming this server and this share (steps 1
 * to 7 of the verification order, without the database). Throws an `unauthenticated` DomainError naming the
 * failed check; the share service then does steps 7 to 9 with the store.
 */
export interface TicketVerifier {
  verify(presentation: TicketPresentation): Promise<VerifiedTicket>;
}
