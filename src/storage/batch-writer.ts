import { isDomainError } from '../domain/errors.js';
import { translateDatabaseError } from './database-errors.js';
import {
  COMMIT_MARGIN_MS,
  DeadlinePassedError,
  earliestOf,
  NO_DEADLINE,
  type WriteDeadline,
} from './write-deadline.js';

export interface BatcherOptions<Item, Result> {
  /**
   * Runs every item in one atomic step (a multi-row INSERT, or one transaction): all of them or, on failure, none.
   * Resolves with one result per item, in the order of `items`. `deadline` stands for every item's: a write commits
   * before the earliest of them and reports its COMMIT to all (transactionBefore).
   */
  readonly runMany: (items: readonly Item[], deadline: WriteDeadline) => Promise<readonly Result[]>;
  /** Items per step at most. */
  readonly maxBatch?: number;
  /** Steps in flight at once; items arriving while all are busy wait and go together in the next one. */
  readonly maxConcurrent?: number;
}

export interface Batcher<Item, Result> {
  /**
   * Resolves with the item's result once its step is committed; rejects with the driver's error for this item. An
   * item still queued within COMMIT_MARGIN_MS of its `deadline` (it could not commit in time) is dropped, never run.
   */
  run(item: Item, deadline?: WriteDeadline): Promise<Result>;
}

export interface BatchWriterOptions<Row> extends Omit<BatcherOptions<Row, void>, 'runMany'> {
  /** Writes every row in one atomic step (a multi-row INSERT), committed only before `deadline`. */
  readonly insertMany: (rows: readonly Row[], deadline: WriteDeadline) => Promise<void>;
}

export interface BatchWriter<Row> {
  /** Resolves once the row is committed; rejects with the driver's error for this row (see Batcher.run). */
  write(row: Row, deadline?: WriteDeadline): Promise<void>;
}

/** Rows per multi-row INSERT: far below max_allowed_packet even for RSA capsules (~1 KiB a row). */
export const DEFAULT_MAX_BATCH = 256;
/** Statements in flight: the other connections of the pool stay free for reads. */
export const DEFAULT_MAX_CONCURRENT = 2;

interface Waiting<Item, Result> {
  readonly item: Item;
  readonly deadline: WriteDeadline;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent writes ("group commit"): an item is written at once when a slot is free, so a lone request
 * waits for nothing; items that arrive while every slot is busy are written together, in one step (a multi-row
 * INSERT, or one transaction), as soon as a slot frees. No timer: the batch is whatever queued during the previous
 * step, so batches grow with load and vanish without it. Each request is answered only after the step holding its
 * item has committed.
 *
 * A failed step wrote nothing (statements and transactions are atomic on InnoDB and SQLite). When the database is
 * unavailable (which includes a write conflict, run again by the caller's withDatabaseErrors) every item of the
 * batch gets that error; any other failure (a duplicate id, a row the database refuses) is one item's fault, so
 * each item is then run alone and answered with its own outcome.
 */
export function createBatcher<Item, Result>({
  runMany,
  maxBatch = DEFAULT_MAX_BATCH,
  maxConcurrent = DEFAULT_MAX_CONCURRENT,
}: BatcherOptions<Item, Result>): Batcher<Item, Result> {
  const queue: Waiting<Item, Result>[] = [];
  let running = 0;

  const runAlone = (waiting: Waiting<Item, Result>): Promise<void> =>
    runMany([waiting.item], waiting.deadline).then((results) => waiting.resolve(results[0] as Result), waiting.reject);

  const flush = async (batch: Waiting<Item, Result>[]): Promise<void> => {
    try {
      const results = await runMany(
        batch.map((waiting) => waiting.item),
        earliestOf(batch.map((waiting) => waiting.deadline)),
      );
      batch.forEach((waiting, i) => waiting.resolve(results[i] as Result));
    } catch (error) {
      const translated = translateDatabaseError(error);
      if (batch.length === 1 || (isDomainError(translated) && translated.code === 'unavailable')) {
        batch.forEach((waiting) => waiting.reject(error));
        return;
      }
      await Promise.all(batch.map(runAlone));
    }
  };

  /**
   * The next batch, without the items whose requests were (or are about to be) answered 503 while they waited: such
   * an item could not commit, and in a batch it would keep the others from committing.
   */
  const nextBatch = (): Waiting<Item, Result>[] => {
    const now = Date.now();
    const batch: Waiting<Item, Result>[] = [];
    while (batch.length < maxBatch && queue.length > 0) {
      const waiting = queue.shift() as Waiting<Item, Result>;
      if (waiting.deadline.at - COMMIT_MARGIN_MS <= now) {
        waiting.reject(new DeadlinePassedError('the request timed out while its write waited'));
      } else {
        batch.push(waiting);
      }
    }
    return batch;
  };

  const pump = (): void => {
    while (running < maxConcurrent && queue.length > 0) {
      const batch = nextBatch();
      if (batch.length === 0) {
        return;
      }
      running++;
      void flush(batch).finally(() => {
        running--;
        pump();
      });
    }
  };

  return {
    run: (item, deadline = NO_DEADLINE) =>
      new Promise<Result>((resolve, reject) => {
        queue.push({ item, deadline, resolve, reject });
        pump();
      }),
  };
}

/** Concurrent single-row inserts coalesced into multi-row INSERTs (createBatcher with nothing to answer). */
export function createBatchWriter<Row>({ insertMany, ...options }: BatchWriterOptions<Row>): BatchWriter<Row> {
  const batcher = createBatcher<Row, void>({
    ...options,
    runMany: async (rows, deadline) => {
      await insertMany(rows, deadline);
      return rows.map(() => undefined);
    },
  });
  return { write: (row, deadline) => batcher.run(row, deadline) };
}

/** A read of one row by id: the row must not have expired at `now` (epoch ms). */
export interface Lookup {
  readonly id: string;
  readonly now: number;
}

export interface LookupOptions<Row> {
  /** The rows among `ids` (distinct) that expire after `earliest`, in one statement. */
  readonly select: (ids: readonly string[], earliest: number) => Promise<readonly Row[]>;
  readonly idOf: (row: Row) => string;
  readonly expiresAt: (row: Row) => number;
}

/** Read slots: the reads of a batch are one statement, so a few slots keep the pool free for writes. */
export const LOOKUP_SLOTS = 4;

/**
 * Concurrent reads by id coalesced into one `SELECT … WHERE id IN (…)` (a lone read is sent at once). The profile of
 * the GET paths showed a statement per request (its build in Knex, its packet in mysql2, its socket write) as a third
 * of the server's busy time. Each read keeps its own `now`: the statement asks for the rows unexpired at the earliest
 * of them, and each read is then held to its own.
 */
export function createLookupBatcher<Row>({
  select,
  idOf,
  expiresAt,
}: LookupOptions<Row>): Batcher<Lookup, Row | undefined> {
  return createBatcher<Lookup, Row | undefined>({
    maxConcurrent: LOOKUP_SLOTS,
    runMany: async (lookups) => {
      const rows = await select(
        [...new Set(lookups.map((lookup) => lookup.id))],
        Math.min(...lookups.map((lookup) => lookup.now)),
      );
      const byId = new Map(rows.map((row) => [idOf(row), row]));
      return lookups.map(({ id, now }) => {
        const row = byId.get(id);
        return row && expiresAt(row) > now ? row : undefined;
      });
    },
  });
}
