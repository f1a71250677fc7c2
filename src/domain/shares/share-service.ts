import type { Clock } from '../clock.js';
import { invalidArgument, notFound, resourceExhausted } from '../errors.js';
import { insertWithFreshId } from '../fresh-id.js';
import { toHex, type RandomSource } from '../random.js';
import { resolveExpiry, type ExpiryPolicy } from '../expiry-policy.js';
import {
  checkRecipient,
  SHARE_ID_MAX_LENGTH,
  SHARE_ID_MIN_LENGTH,
  SHARE_MAX_BYTES,
  SHARE_MIN_BYTES,
  type KeyShare,
} from './key-share.js';
import type { ShareStore } from './share-store.js';
import type { TicketVerifier } from './ticket-verifier.js';

export interface CreatedShare {
  readonly shareId: string;
  readonly expiryTime: Date;
  readonly expiryTimeAdjusted: boolean;
}

/** The shares server's use cases (CDOC2 spec "CDOC2 CSS"); both transports call exactly these. */
export interface ShareService {
  create(share: KeyShare, requestedExpiry?: Date): Promise<CreatedShare>;
  createNonce(shareId: string): Promise<string>;
  /** Verifies the ticket (README "What the shares server verifies", in order), uses up the nonce, returns the share. */
  get(shareId: string, ticket: string, x5c: string): Promise<KeyShare>;
}

export interface NoncePolicy {
  readonly ttlMs: number;
  readonly maxLivePerShare: number;
}

export interface ShareServiceDependencies {
  readonly store: ShareStore;
  readonly verifier: TicketVerifier;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly expiry: ExpiryPolicy;
  readonly nonces: NoncePolicy;
}

/**
 * The one 404 of the recipient interface: unknown share, expired share, unknown / used / stale nonce and
 * "not yours" all read the same, so that nobody learns which it was.
 */
export const SHARE_NOT_FOUND = 'key share not found';

/** 32 lowercase hex characters: 128 bits from a CSPRNG, the form the reference server's clients know. */
export const newShareId = (random: RandomSource): string => toHex(random.bytes(16));

/** 12 random bytes in base64url: 16 characters, inside the OpenAPI's 12..16 (the reference sends 22). */
export const newNonce = (random: RandomSource): string => Buffer.from(random.bytes(12)).toString('base64url');

function checkShareId(shareId: string): void {
  if (shareId.length < SHARE_ID_MIN_LENGTH || shareId.length > SHARE_ID_MAX_LENGTH) {
    throw invalidArgument(
      `share id must be ${SHARE_ID_MIN_LENGTH} to ${SHARE_ID_MAX_LENGTH} characters, got ${shareId.length}`,
    );
  }
}

export function createShareService(deps: ShareServiceDependencies): ShareService {
  const { store, verifier, clock, random, expiry, nonces } = deps;
  return {
    async create(share, requestedExpiry) {
      if (share.share.length < SHARE_MIN_BYTES || share.share.length > SHARE_MAX_BYTES) {
        throw invalidArgument(
          `share must be ${SHARE_MIN_BYTES} to ${SHARE_MAX_BYTES} bytes, got ${share.share.length}`,
        );
      }
      const recipientProblem = checkRecipient(share.recipient);
      if (recipientProblem) {
        throw invalidArgument(`recipient ${recipientProblem}`);
      }
      const now = clock.now();
      const applied = resolveExpiry(now, requestedExpiry, expiry);
      const shareId = await insertWithFreshId(
        () => newShareId(random),
        (id) => store.insert({ ...share, ...applied, shareId: id, createdAt: now }),
      );
      return { shareId, ...applied };
    },

    async createNonce(shareId) {
      checkShareId(shareId);
      const now = clock.now();
      const nonce = newNonce(random);
      const result = await store.addNonce(
        { shareId, nonce, createdAt: now, expiresAt: new Date(now.getTime() + nonces.ttlMs) },
        nonces.maxLivePerShare,
        now,
      );
      if (result === 'no-share') {
        throw notFound(SHARE_NOT_FOUND);
      }
      if (result === 'too-many') {
        // Bounded so that nobody can fill the database (the reference allows one per share, then fails for 24 h).
        throw resourceExhausted(
          `this share already has ${nonces.maxLivePerShare} unused nonces; use one or wait until they expire`,
        );
      }
      return nonce;
    },

    async get(shareId, ticket, x5c) {
      checkShareId(shareId);
      if (ticket.trim() === '') {
        throw invalidArgument('the auth ticket is missing');
      }
      if (x5c.trim() === '') {
        throw invalidArgument('the auth certificate (x5c) is missing');
      }
      const now = clock.now();
      // Steps 1 to 7 (certificate, trust, signature, typ/iss, disclosures, server URL, share id).
      const verified = await verifier.verify({ ticket, x5c, shareId, now });
      // Step 7: the share exists and has not expired.
      const share = await store.findUnexpired(shareId, now);
      if (!share) {
        throw notFound(SHARE_NOT_FOUND);
      }
      // Step 8: the nonce was issued for this share, is still live, and is consumed now (single use).
      if (!(await store.consumeNonce(shareId, verified.nonce, now))) {
        throw notFound(SHARE_NOT_FOUND);
      }
      // Step 9: the share is addressed to the authenticated recipient.
      if (share.recipient !== verified.recipient) {
        throw notFound(SHARE_NOT_FOUND);
      }
      return { share: share.share, recipient: share.recipient };
    },
  };
}
