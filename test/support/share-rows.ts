import { randomBytes } from 'node:crypto';
import type { ShareNonce, StoredShare } from '../../src/domain/shares/key-share.js';

/** A share as the store holds it, created at `now`, expiring a day later, for a fixed test person. */
export const makeStoredShare = (now: Date): StoredShare => ({
  shareId: randomBytes(16).toString('hex'),
  share: new Uint8Array(randomBytes(32)),
  recipient: 'etsi/PNOEE-48010010101',
  expiryTime: new Date(now.getTime() + 86_400_000),
  expiryTimeAdjusted: false,
  createdAt: now,
});

/** A fresh nonce of `shareId`, issued at `now`, live for `ttlMs` (the default nonce lifetime, PT5M). */
export const makeShareNonce = (shareId: string, now: Date, ttlMs = 300_000): ShareNonce => ({
  shareId,
  nonce: randomBytes(12).toString('base64url'),
  createdAt: now,
  expiresAt: new Date(now.getTime() + ttlMs),
});
