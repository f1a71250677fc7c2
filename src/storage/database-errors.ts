import { IdConflictError, unavailable } from '../domain/errors.js';

/** Driver error codes that mean "the database is not there right now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
]);

const DUPLICATE_CODES = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE']);

/**
 * Translates a driver error into the domain's vocabulary. Duplicate keys become IdConflictError (the service
 * retries with a fresh id); unreachable databases become `unavailable` (503 / UNAVAILABLE). Anything else is
 * returned unchanged: it is a bug, logged in full and answered as a generic internal error, never sent to a client.
 */
export function translateDatabaseError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DUPLICATE_CODES.has(code)) {
    return new IdConflictError('duplicate id', { cause: error });
  }
  if (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    (error instanceof Error && error.name === 'KnexTimeoutError')
  ) {
    return unavailable('the database is unavailable; try again later', error);
  }
  return error;
}

/** Runs a database operation and translates its failure. */
export async function withDatabaseErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw translateDatabaseError(error);
  }
}
