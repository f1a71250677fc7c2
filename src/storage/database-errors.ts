import { IdConflictError, unavailable } from '../domain/errors.js';
import { queryTimeoutOf, type Database } from './database.js';
import {
  COMMIT_MARGIN_MS,
  CommitOutcomeUnknownError,
  DeadlinePassedError,
  type WriteDeadline,
} from './write-deadline.js';

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
  // A node shutting down (or an operator) killed the session.
  'ER_CONNECTION_KILLED',
  // Also what a Galera node answers when `wsrep_sync_wait` could not catch up within repl.causal_read_timeout.
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
 * Galera reports a write conflict where a single server would have waited on a lock: the write-set that loses
 * certification against a concurrent one from another node, and a local transaction aborted by a replicated one
 * ("brute-force abort"), both fail with ER_LOCK_DEADLOCK (1213), at any statement or at COMMIT. The transaction
 * has then been rolled back whole, so running the operation again is safe, and the second run sees the winner's
 * rows (a consumed nonce is gone, a bound is reached): the caller gets the domain's answer, not an error.
 */
const CONFLICT_CODES = new Set(['ER_LOCK_DEADLOCK']);

/**
 * Upper bound of the random pause before the first re-run, doubled for each further one up to the cap (10, 20, 40,
 * 80, 160, 200, 200 … ms): usually one short pause, since each round has a winner. The pauses are random ("full
 * jitter") so that the losers of one round do not meet again in the next.
 */
const CONFLICT_BACKOFF_MS = 10;
const CONFLICT_BACKOFF_CAP_MS = 200;

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/**
 * A Galera node that is not part of the Primary Component (quorum lost), or is still joining, refuses every
 * statement that touches a table with errno 1047 "WSREP has not yet prepared node for application use". Only that
 * text makes 1047 an outage: from any other server the same errno means a protocol error, which is a bug.
 */
export const isWsrepNotReady = (error: unknown): boolean =>
  codeOf(error) === 'ER_UNKNOWN_COM_ERROR' && error instanceof Error && /WSREP/i.test(error.message);

/**
 * mysql2 marks an error that ends the connection `fatal`; one without a server errno was raised by the client itself
 * because the connection had gone, e.g. the ROLLBACK that Knex sends after a transaction's connection was lost
 * ("Can't add new command when connection is in closed state", which replaces the original error).
 */
const isConnectionGone = (error: unknown): boolean =>
  (error as { fatal?: unknown } | null)?.fatal === true && (error as { errno?: unknown }).errno === undefined;

const isWriteConflict = (error: unknown): boolean => {
  const code = codeOf(error);
  return typeof code === 'string' && CONFLICT_CODES.has(code);
};

/**
 * Translates a driver error into the domain's vocabulary. Duplicate keys become IdConflictError (the service
 * retries with a fresh id); unreachable databases become `unavailable` (503 / UNAVAILABLE). Anything else is
 * returned unchanged: it is a bug, logged in full and answered as a generic internal error, never sent to a client.
 */
export function translateDatabaseError(error: unknown): unknown {
  const code = codeOf(error);
  if (typeof code === 'string' && DUPLICATE_CODES.has(code)) {
    return new IdConflictError('duplicate id', { cause: error });
  }
  if (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    isWsrepNotReady(error) ||
    isConnectionGone(error) ||
    (error instanceof Error && error.name === 'KnexTimeoutError') ||
    // A write that would have committed too late rolled back; one whose COMMIT went unanswered may or may not
    // have committed (README "Shutdown and database outages"): for the client both are the outage's 503.
    error instanceof DeadlinePassedError ||
    error instanceof CommitOutcomeUnknownError
  ) {
    return unavailable(DATABASE_UNAVAILABLE, error);
  }
  return error;
}

export const DATABASE_UNAVAILABLE = 'the database is unavailable; try again later';

/** The random pause before run `run` (2 or more). */
const pauseBefore = (run: number): number =>
  Math.random() * Math.min(CONFLICT_BACKOFF_MS * 2 ** Math.min(run - 2, 10), CONFLICT_BACKOFF_CAP_MS);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A write conflict (see CONFLICT_CODES) runs the whole operation again after a short random pause, for as long as a
 * new run could still commit before the request's deadline; the operation must therefore be one transaction or
 * idempotent statements, as every store's is. Bounded by time, not by a count of runs: on a Galera cluster a hot
 * row written through three nodes at once (the nonce bound of one share) has one winner per round, and under load
 * an unlucky request lost eight rounds in a row and was answered 503 with most of its time left.
 */
async function withConflictReruns<T>(operation: (run: number) => Promise<T>, deadline: number): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await operation(run);
    } catch (error) {
      const pauseMs = pauseBefore(run + 1);
      if (!isWriteConflict(error) || Date.now() + pauseMs >= deadline - COMMIT_MARGIN_MS) {
        throw error;
      }
      await sleep(pauseMs);
    }
  }
}

/**
 * Runs a database operation and translates its failure. Write conflicts are run again (withConflictReruns; the
 * operation is told which run it is, 1 for the first). The operation, its re-runs included, is bounded by the
 * database's query timeout (waiting for a pooled connection included): a database that accepts connections but
 * stops answering is an outage like any other, answered 503 / UNAVAILABLE, never a request that hangs. The abandoned
 * work finishes or fails on its own and its result is dropped; a write given the deadline never sends its COMMIT
 * after it (transactionBefore), so it rolls back.
 *
 * The one exception to the bound: a COMMIT sent in time and still unanswered at the deadline. Answering 503 then
 * could deny a write that commits a moment later, so the request waits for that COMMIT's answer, which
 * transactionBefore bounds by a further query timeout, and is answered by it
 * (README "Shutdown and database outages").
 */
export async function withDatabaseErrors<T>(
  db: Database,
  operation: (deadline: WriteDeadline, run: number) => Promise<T>,
): Promise<T> {
  const timeoutMs = queryTimeoutOf(db);
  let commitInFlight: Promise<boolean> | undefined;
  const deadline: WriteDeadline = {
    at: Date.now() + timeoutMs,
    committing: (committed) => {
      commitInFlight = committed;
      void committed.then(() => {
        if (commitInFlight === committed) {
          commitInFlight = undefined;
        }
      });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    const giveUp = (): void => reject(unavailable(DATABASE_UNAVAILABLE, new Error(`no answer within ${timeoutMs} ms`)));
    timer = setTimeout(() => {
      if (commitInFlight === undefined) {
        giveUp();
        return;
      }
      // Committed: the operation resolves with its result (nothing but our own code runs after the COMMIT).
      void commitInFlight.then((committed) => {
        if (!committed) {
          giveUp();
        }
      });
    }, timeoutMs);
  });
  try {
    return await Promise.race([withConflictReruns((run) => operation(deadline, run), deadline.at), timedOut]);
  } catch (error) {
    throw translateDatabaseError(error);
  } finally {
    clearTimeout(timer);
  }
}
