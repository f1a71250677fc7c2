import type { FastifyRequest } from 'fastify';
import { invalidArgument } from '../../domain/errors.js';
import { parseRfc3339 } from '../../domain/rfc3339.js';

/** `x-expiry-time` / `x-expiry-time-adjusted` of a stored item (openapi/key-capsules.yaml, `createCapsule`). */
export const expiryHeaders = (expiry: { expiryTime: Date; expiryTimeAdjusted: boolean }): Record<string, string> => ({
  'x-expiry-time': expiry.expiryTime.toISOString(),
  'x-expiry-time-adjusted': String(expiry.expiryTimeAdjusted),
});

/** The sender's requested expiry from `x-expiry-time`, if any (RFC 3339 section 5.6). */
export function requestedExpiry(request: FastifyRequest): Date | undefined {
  const header = request.headers['x-expiry-time'];
  if (header === undefined) {
    return undefined;
  }
  const parsed = typeof header === 'string' ? parseRfc3339(header) : undefined;
  if (!parsed) {
    throw invalidArgument('x-expiry-time must be one RFC 3339 date-time, e.g. 2030-01-01T00:00:00Z');
  }
  return parsed;
}
