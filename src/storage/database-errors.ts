import { IdConflictError, unavailable } from '../domain/errors.js';
import { queryTimeoutOf, type Database } from './database.js';

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
    return unavailable(DATABASE_UNAVAILABLE, error);
  }
  return error;
}

export const DATABASE_UNAVAILABLE = 'the database is unavailable; try again later';

/**
 * Runs a database operation and translates its failure. The operation is bounded by the database's query timeout
 * (waiting for a pooled connection included): a database that accepts connections but stops answering is an
 * outage like any other, answered 503 / UNAVAILABLE, never a request that hangs. The abandoned query finishes or
 * fails on its own; its result is dropped.
 */
export async function withDatabaseErrors<T>(db: Database, operation: () => Promise<T>): Promise<T> {
  const timeoutMs = queryTimeoutOf(db);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(unavailable(DATABASE_UNAVAILABLE, new Error(`no answer within ${timeoutMs} ms`))),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([operation(), timedOut]);
  } catch (error) {
    throw translateDatabaseError(error);
  } finally {
    clearTimeout(timer);
  }
}
