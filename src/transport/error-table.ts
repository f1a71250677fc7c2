import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { isDomainError, type DomainErrorCode } from '../domain/errors.js';

/**
 * The one error table (README "gRPC": errors use the standard status codes): every domain error code maps to
 * exactly one gRPC status and one HTTP status. Both transports answer through `toPublicError`, so the same
 * failure reads the same on either wire.
 */
export interface ErrorMapping {
  /** The transport-neutral outcome: the metric label and the `outcome` log field on both transports. */
  readonly outcome: Outcome;
  readonly grpc: GrpcStatus;
  readonly http: number;
  readonly title: string;
}

export const ERROR_TABLE: Readonly<Record<DomainErrorCode, ErrorMapping>> = {
  invalid_argument: { outcome: 'invalid_argument', grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, title: 'Bad Request' },
  unauthenticated: { outcome: 'unauthenticated', grpc: GrpcStatus.UNAUTHENTICATED, http: 401, title: 'Unauthorized' },
  not_found: { outcome: 'not_found', grpc: GrpcStatus.NOT_FOUND, http: 404, title: 'Not Found' },
  resource_exhausted: {
    outcome: 'resource_exhausted',
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 429,
    title: 'Too Many Requests',
  },
  unavailable: { outcome: 'unavailable', grpc: GrpcStatus.UNAVAILABLE, http: 503, title: 'Service Unavailable' },
};

export const INTERNAL_ERROR: ErrorMapping = {
  outcome: 'internal',
  grpc: GrpcStatus.INTERNAL,
  http: 500,
  title: 'Internal Server Error',
};

/**
 * Failures a transport detects before any operation runs, so they have no domain code: a method the path does not
 * serve, a body too large or of the wrong type, headers too large, a request that never finished arriving. Each
 * maps to the status HTTP defines for it (RFC 9110 15.5) and to the gRPC status grpc-js answers for the same
 * condition, so that an operator reads one table for both wires.
 */
export type ProtocolErrorCode =
  'method_not_allowed' | 'content_too_large' | 'unsupported_media_type' | 'header_fields_too_large' | 'request_timeout';

export const PROTOCOL_ERROR_TABLE: Readonly<Record<ProtocolErrorCode, ErrorMapping>> = {
  method_not_allowed: {
    outcome: 'method_not_allowed',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 405,
    title: 'Method Not Allowed',
  },
  content_too_large: {
    outcome: 'content_too_large',
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 413,
    title: 'Content Too Large',
  },
  unsupported_media_type: {
    outcome: 'unsupported_media_type',
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 415,
    title: 'Unsupported Media Type',
  },
  header_fields_too_large: {
    outcome: 'header_fields_too_large',
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 431,
    title: 'Request Header Fields Too Large',
  },
  request_timeout: {
    outcome: 'request_timeout',
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    http: 408,
    title: 'Request Timeout',
  },
};

/**
 * How a request ended, in one code set for both transports (README "Health, metrics, logs"): `ok`, a domain error
 * code, `internal`, or a protocol error code. It is the `outcome` label of `cdoc2_requests_total` and the
 * `outcome` field of the request log line; the transport's own code (HTTP status, gRPC status name) is the
 * separate `status` field, so a dashboard or alert is written once for both wires.
 */
export type Outcome = 'ok' | DomainErrorCode | 'internal' | ProtocolErrorCode | AbandonedOutcome;

/**
 * A request that ended with no answer from us: the client cancelled it or closed its connection (`cancelled`), or
 * its gRPC deadline passed first (`deadline_exceeded`; grpc-js then answers DEADLINE_EXCEEDED itself). The work
 * already started is not undone (a create may still commit), which is why these are counted apart from errors.
 */
export type AbandonedOutcome = 'cancelled' | 'deadline_exceeded';

/** Every outcome once (a Record, so an outcome missing here does not compile), for documentation and tests. */
const EVERY_OUTCOME: Readonly<Record<Outcome, true>> = {
  ok: true,
  invalid_argument: true,
  unauthenticated: true,
  not_found: true,
  resource_exhausted: true,
  unavailable: true,
  internal: true,
  method_not_allowed: true,
  content_too_large: true,
  unsupported_media_type: true,
  header_fields_too_large: true,
  request_timeout: true,
  cancelled: true,
  deadline_exceeded: true,
};

export const OUTCOMES = Object.keys(EVERY_OUTCOME) as readonly Outcome[];

/**
 * The mapping for an HTTP client-error status that a library (Fastify, Node's HTTP parser) chose; any 4xx the
 * table does not name reads as a bad request, so no library status escapes the table.
 */
export function mappingForHttpStatus(status: number): ErrorMapping {
  const known = [...Object.values(ERROR_TABLE), ...Object.values(PROTOCOL_ERROR_TABLE)].find(
    (mapping) => mapping.http === status,
  );
  return known ?? ERROR_TABLE.invalid_argument;
}

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
