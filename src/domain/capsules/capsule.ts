import type { CapsuleType } from './capsule-types.js';

/** A key capsule as the sender submits it. */
export interface Capsule {
  readonly recipientId: Uint8Array;
  readonly ephemeralKeyMaterial: Uint8Array;
  readonly capsuleType: CapsuleType;
}

export interface CapsuleExpiry {
  readonly expiryTime: Date;
  /** True when the sender's requested expiry was later than the server's maximum and was clamped. */
  readonly expiryTimeAdjusted: boolean;
}

/** A capsule as the server keeps it. */
export interface StoredCapsule extends Capsule, CapsuleExpiry {
  readonly transactionId: string;
  readonly createdAt: Date;
}

/** Byte limits of the `Capsule` schema (openapi/key-capsules.yaml), applied to the decoded bytes. */
export const RECIPIENT_ID_MIN_BYTES = 65;
export const RECIPIENT_ID_MAX_BYTES = 2100;
export const EPHEMERAL_KEY_MATERIAL_MAX_BYTES = 2100;

/** The id path parameter is 18..34 characters (key-capsules OpenAPI); our own ids are 34. */
export const TRANSACTION_ID_MIN_LENGTH = 18;
export const TRANSACTION_ID_MAX_LENGTH = 34;
