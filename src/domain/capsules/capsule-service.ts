import type { Clock } from '../clock.js';
import { invalidArgument, notFound } from '../errors.js';
import { insertWithFreshId } from '../fresh-id.js';
import { toHex, type RandomSource } from '../random.js';
import {
  TRANSACTION_ID_MAX_LENGTH,
  TRANSACTION_ID_MIN_LENGTH,
  type Capsule,
  type CapsuleExpiry,
  type StoredCapsule,
} from './capsule.js';
import type { CapsuleStore } from './capsule-store.js';
import { validateCapsule } from './capsule-validation.js';
import { resolveExpiry, type ExpiryPolicy } from '../expiry-policy.js';
import { isAddressedTo, type RecipientKey } from './recipient-key.js';

export interface CreatedCapsule extends CapsuleExpiry {
  readonly transactionId: string;
}

/** The key capsule server's use cases; both transports call exactly these. */
export interface CapsuleService {
  create(capsule: Capsule, requestedExpiry?: Date): Promise<CreatedCapsule>;
  /**
   * The capsule, when it exists, has not expired and is addressed to `recipient`. Every other case throws the same
   * not_found error, so that nobody can learn whether an id exists (README "Architecture": no oracle).
   */
  get(transactionId: string, recipient: RecipientKey): Promise<StoredCapsule>;
}

export interface CapsuleServiceDependencies {
  readonly store: CapsuleStore;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly expiry: ExpiryPolicy;
}

/** The one 404 message of the recipient interface, whatever the reason. */
export const CAPSULE_NOT_FOUND = 'key capsule not found';

/** `KC` + 32 lowercase hex characters: 16 bytes from a CSPRNG (README "What the server checks, and where"). */
export const newTransactionId = (random: RandomSource): string => `KC${toHex(random.bytes(16))}`;

export function createCapsuleService({ store, clock, random, expiry }: CapsuleServiceDependencies): CapsuleService {
  return {
    async create(capsule, requestedExpiry) {
      validateCapsule(capsule);
      const now = clock.now();
      const applied = resolveExpiry(now, requestedExpiry, expiry);
      const transactionId = await insertWithFreshId(
        () => newTransactionId(random),
        (id) => store.insert({ ...capsule, ...applied, transactionId: id, createdAt: now }),
      );
      return { transactionId, ...applied };
    },

    async get(transactionId, recipient) {
      if (transactionId.length < TRANSACTION_ID_MIN_LENGTH || transactionId.length > TRANSACTION_ID_MAX_LENGTH) {
        throw invalidArgument(
          `transaction id must be ${TRANSACTION_ID_MIN_LENGTH} to ${TRANSACTION_ID_MAX_LENGTH} characters, got ${transactionId.length}`,
        );
      }
      const capsule = await store.findUnexpired(transactionId, clock.now());
      if (!capsule || !isAddressedTo(capsule, recipient)) {
        throw notFound(CAPSULE_NOT_FOUND);
      }
      return capsule;
    },
  };
}
