/**
 * Domain errors. Each carries a transport-neutral code; `transport/error-table.ts` maps every code to exactly one
 * gRPC status and one HTTP status, so both transports answer the same failure the same way.
 *
 * Messages are written for the client: they never contain SQL, stack traces, key material or personal data.
 */
export type DomainErrorCode =
  'invalid_argument' | 'unauthenticated' | 'not_found' | 'resource_exhausted' | 'unavailable';

export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: DomainErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string): DomainError => new DomainError('invalid_argument', message);
export const unauthenticated = (message: string): DomainError => new DomainError('unauthenticated', message);
export const notFound = (message: string): DomainError => new DomainError('not_found', message);
export const resourceExhausted = (message: string): DomainError => new DomainError('resource_exhausted', message);
export const unavailable = (message: string, cause?: unknown): DomainError =>
  new DomainError('unavailable', message, { cause });

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

/**
 * Thrown by a store when a freshly generated id is already taken. Never reaches a client: the service draws a new
 * id (a collision of 128 random bits is not expected in the lifetime of the universe, but the primary key, not
 * luck, is what guarantees that no capsule is ever overwritten).
 */
export class IdConflictError extends Error {
  override readonly name = 'IdConflictError';
}
