import { invalidArgument } from './errors.js';
import type { CapsuleExpiry } from './capsules/capsule.js';

/** How long stored items live (CDOC2 spec "CDOC2 CCS" > "Server state"); both durations come from configuration. */
export interface ExpiryPolicy {
  readonly defaultMs: number;
  readonly maxMs: number;
}

/**
 * Applies the validity-period rules: no request means now + default; a request later than now + max is clamped to
 * now + max and reported as adjusted; a request that is not in the future is refused (it would store something
 * that can never be fetched).
 */
export function resolveExpiry(now: Date, requested: Date | undefined, policy: ExpiryPolicy): CapsuleExpiry {
  const nowMs = now.getTime();
  if (requested === undefined) {
    return { expiryTime: new Date(nowMs + policy.defaultMs), expiryTimeAdjusted: false };
  }
  const requestedMs = requested.getTime();
  if (!Number.isFinite(requestedMs)) {
    throw invalidArgument('the requested expiry time is not a valid instant');
  }
  if (requestedMs <= nowMs) {
    throw invalidArgument(`the requested expiry time ${requested.toISOString()} is not in the future`);
  }
  const latest = nowMs + policy.maxMs;
  if (requestedMs > latest) {
    return { expiryTime: new Date(latest), expiryTimeAdjusted: true };
  }
  return { expiryTime: new Date(requestedMs), expiryTimeAdjusted: false };
}
