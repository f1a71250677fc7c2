import type { Knex } from 'knex';
import { queryTimeoutOf, type Database } from './database.js';

/**
 * When a store operation's request is answered 503 (withDatabaseErrors), and how a write tells it that a COMMIT is
 * awaiting its answer. The rule (README "Shutdown and database outages"): a COMMIT is never sent past the deadline
 * or within COMMIT_MARGIN_MS of it; once one has been sent, only its answer says whether the write took effect, so
 * the request waits for that answer (bounded by `database.queryTimeout` from the moment the COMMIT was sent) and is
 * answered by it: committed is a success even if a little late, rolled back or failed is a 503.
 */
export interface WriteDeadline {
  /** Epoch ms: the request is answered 503 then, unless a COMMIT sent for it is awaiting its answer. */
  readonly at: number;
  /**
   * Called right before a COMMIT is sent for this request, with a promise of whether it committed: true once it was
   * answered OK; false once it failed, or once its answer did not come in time (outcome unknown).
   */
  committing(committed: Promise<boolean>): void;
}

/** For reads (and tests): nothing to answer 503 by. */
export const NO_DEADLINE: WriteDeadline = { at: Number.POSITIVE_INFINITY, committing: () => {} };

/** One COMMIT for several requests (a batch): sent before the earliest deadline, awaited by every request. */
export const earliestOf = (deadlines: readonly WriteDeadline[]): WriteDeadline => ({
  at: Math.min(...deadlines.map((deadline) => deadline.at)),
  committing: (committed) => deadlines.forEach((deadline) => deadline.committing(committed)),
});

/** Thrown in a write whose request has been (or is about to be) answered 503: its transaction rolls back. */
export class DeadlinePassedError extends Error {
  override readonly name = 'DeadlinePassedError';
}

/**
 * A COMMIT was sent in time but not answered within `database.queryTimeout`: it may have committed or not (a
 * frozen or partitioned server decides when it resumes). Answered 503; README "Shutdown and database outages" says
 * why each write makes this harmless.
 */
export class CommitOutcomeUnknownError extends Error {
  override readonly name = 'CommitOutcomeUnknownError';
}

/**
 * A write does not send its COMMIT this close to its deadline: a COMMIT sent at the last moment would make the
 * client wait up to a further query timeout for an answer it would otherwise have had as a prompt 503.
 */
export const COMMIT_MARGIN_MS = 100;

/** Throws (so that the transaction rolls back) when the deadline has passed or is closer than COMMIT_MARGIN_MS. */
export function assertCommitInTime(deadline: number): void {
  if (Date.now() >= deadline - COMMIT_MARGIN_MS) {
    throw new DeadlinePassedError('the request timed out before this write could commit');
  }
}

export interface TransactionOptions {
  /**
   * Removes what the transaction wrote, run only when its COMMIT's answer was given up on (the request was answered
   * 503) and then arrived saying it committed. Only for rows nobody was told about (a fresh id, a nonce never handed
   * out): deleting them is then unobservable.
   */
  readonly undoLateCommit?: () => Promise<unknown>;
}

/**
 * Runs `work` in a transaction whose COMMIT follows the rule of WriteDeadline: not sent past `deadline` (or within
 * COMMIT_MARGIN_MS of it), the transaction rolls back instead; once sent, awaited for at most the database's query
 * timeout. A database that froze and resumes runs what it had received, but without a COMMIT a transaction commits
 * nothing. Resolves with `work`'s result once committed; rejects with DeadlinePassedError (rolled back), the
 * driver's error (rolled back, or the COMMIT failed), or CommitOutcomeUnknownError.
 */
export function transactionBefore<T>(
  db: Database,
  deadline: WriteDeadline,
  work: (trx: Knex.Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return answeredByCommit(
    db,
    deadline,
    (sending) =>
      db.transaction(async (trx) => {
        const result = await work(trx);
        // Knex sends the COMMIT as soon as this function's promise resolves.
        sending();
        return result;
      }),
    options,
  );
}

/**
 * A batch writer's `insertMany` for rows whose keys nobody has been told yet (a fresh transaction id or share id):
 * one multi-row INSERT in a transaction under the rule of WriteDeadline, so that a write whose request timed out
 * rolls back instead of committing later. Should its COMMIT go unanswered (503) and then turn out committed, the
 * rows are deleted again: their ids were never given out.
 */
export function insertFreshRows<Row extends object>(
  db: Database,
  table: string,
  key: keyof Row & string,
): (rows: readonly Row[], deadline: WriteDeadline) => Promise<void> {
  return (rows, deadline) =>
    transactionBefore(
      db,
      deadline,
      async (trx) => {
        await trx(table).insert([...rows]);
      },
      {
        undoLateCommit: () =>
          db(table)
            .whereIn(
              key,
              rows.map((row) => row[key] as Knex.Value),
            )
            .delete(),
      },
    );
}

/**
 * One autocommit statement, which is its own COMMIT, under the same rule. For SQLite: better-sqlite3 runs a
 * statement synchronously, so it is never in flight at a deadline; a transaction there would only add lock waits
 * (SQLite's busy handler sleeps, and blocks the process while it does).
 */
export function statementBefore<T>(db: Database, deadline: WriteDeadline, statement: () => Promise<T>): Promise<T> {
  return answeredByCommit(db, deadline, (sending) => {
    sending();
    return statement();
  });
}

/**
 * Runs `run`, which calls `sending` right before it sends its COMMIT: that throws DeadlinePassedError when it is
 * too late (`run` must then not commit), and otherwise reports the COMMIT to the deadline and bounds the wait for
 * its answer by the query timeout.
 */
function answeredByCommit<T>(
  db: Database,
  deadline: WriteDeadline,
  run: (sending: () => void) => PromiseLike<T>,
  { undoLateCommit }: TransactionOptions = {},
): Promise<T> {
  const answerTimeoutMs = queryTimeoutOf(db);
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let givenUp = false;
    let reportCommitted: (committed: boolean) => void = () => {};
    const committed = new Promise<boolean>((settle) => (reportCommitted = settle));
    const sending = (): void => {
      assertCommitInTime(deadline.at);
      // From now on only the COMMIT's answer tells whether the write took effect.
      deadline.committing(committed);
      timer = setTimeout(() => {
        givenUp = true;
        reportCommitted(false);
        reject(new CommitOutcomeUnknownError(`the COMMIT was not answered within ${answerTimeoutMs} ms`));
      }, answerTimeoutMs);
    };
    const answered = (async () => run(sending))();
    answered.then(
      (result) => {
        clearTimeout(timer);
        if (givenUp) {
          // Answered 503 already; nobody was told about what it wrote.
          void undoLateCommit?.().catch(() => {});
          return;
        }
        reportCommitted(true);
        resolve(result);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reportCommitted(false);
        // The driver's error as it is (withDatabaseErrors translates it); drivers reject with Errors.
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
