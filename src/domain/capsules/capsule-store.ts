import type { StoredCapsule } from './capsule.js';

/**
 * The persistence port of the key capsule server. `storage/` implements it with Knex (MySQL/MariaDB, SQLite).
 *
 * Implementations throw `IdConflictError` when the transaction id exists, and an `unavailable` DomainError when
 * the database cannot be reached; anything else is a bug and surfaces as an internal error.
 */
export interface CapsuleStore {
  insert(capsule: StoredCapsule): Promise<void>;
  /** The capsule with this id whose expiry is later than `now`, if any: an expired capsule is never returned. */
  findUnexpired(transactionId: string, now: Date): Promise<StoredCapsule | undefined>;
  /** Deletes at most `limit` capsules whose expiry is at or before `now`; returns how many it deleted. */
  deleteExpired(now: Date, limit: number): Promise<number>;
}
