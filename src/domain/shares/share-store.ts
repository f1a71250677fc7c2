import type { ShareNonce, StoredShare } from './key-share.js';

export type AddNonceResult = 'added' | 'no-share' | 'too-many';

/**
 * The persistence port of the shares server. Implementations throw `IdConflictError` for an existing share id and
 * an `unavailable` DomainError when the database cannot be reached.
 */
export interface ShareStore {
  insert(share: StoredShare): Promise<void>;
  /** The share with this id whose expiry is later than `now`, if any. */
  findUnexpired(shareId: string, now: Date): Promise<StoredShare | undefined>;
  /**
   * Adds a nonce when its share exists and has not expired and has fewer than `maxLive` live (unexpired) nonces;
   * the check and the insert are one atomic step, so concurrent requests cannot exceed the bound.
   */
  addNonce(nonce: ShareNonce, maxLive: number, now: Date): Promise<AddNonceResult>;
  /**
   * Consumes the nonce: true when it was issued for this share, was still live at `now`, and this call is the one
   * that removed it. Atomic: of two concurrent calls, at most one returns true.
   */
  consumeNonce(shareId: string, nonce: string, now: Date): Promise<boolean>;
  /** Deletes at most `limit` shares whose expiry is at or before `now` (with their nonces). */
  deleteExpired(now: Date, limit: number): Promise<number>;
  /** Deletes at most `limit` nonces whose lifetime ended at or before `now`. */
  deleteStaleNonces(now: Date, limit: number): Promise<number>;
}
