import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { isDomainError, type DomainErrorCode } from '../domain/errors.js';

/**
 * The one error table (spec/interfaces.md "gRPC": "Errors use the standard codes"): every domain error code maps
 * to exactly one gRPC status and one HTTP status. Both transports answer through `toPublicError`, so the same
 * failure reads the same on either wire.
 */
export interface ErrorMapping {
  readonly grpc: GrpcStatus;
  readonly http: number;
  readonly title: string;
}

export const ERROR_TABLE: Readonly<Record<DomainErrorCode, ErrorMapping>> = {
  invalid_argument: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, title: 'Bad Request' },
  unauthenticated: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401, title: 'Unauthorized' },
  not_found: { grpc: GrpcStatus.NOT_FOUND, http: 404, title: 'Not Found' },
  resource_exhausted: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429, title: 'Too Many Requests' },
  unavailable: { grpc: GrpcStatus.UNAVAILABLE, http: 503, title: 'Service Unavailable' },
};

export const INTERNAL_ERROR: ErrorMapping = { grpc: GrpcStatus.INTERNAL, http: 500, title: 'Internal Server Error' };

/** The part of a logger this module needs (pino's and Fastify's both fit). */
export interface ErrorLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface PublicError {
  readonly mapping: ErrorMapping;
  /** Safe to send: a domain error's own message, or a generic text with a log reference. */
  readonly message: string;
}

/**
 * What a client may see of an error. Unknown errors (bugs, SQL failures) are logged in full under a fresh
 * reference and answered with only that reference: grpc-js would otherwise send `err.message` to the client.
 */
export function toPublicError(error: unknown, logger: ErrorLogger, context: Record<string, unknown>): PublicError {
  if (isDomainError(error)) {
    if (error.code === 'unavailable') {
      logger.warn({ ...context, err: error.cause ?? error }, 'dependency unavailable');
    }
    return { mapping: ERROR_TABLE[error.code], message: error.message };
  }
  const reference = randomBytes(8).toString('hex');
  logger.error({ ...context, err: error, reference }, 'internal error');
  return { mapping: INTERNAL_ERROR, message: `internal error (log reference ${reference})` };
}
