import { isDomainError } from '../domain/errors.js';
import { translateDatabaseError } from './database-errors.js';

export interface BatchWriterOptions<Row> {
  /** Writes every row in one statement (a multi-row INSERT): all of them or, on failure, none. */
  readonly insertMany: (rows: readonly Row[]) => Promise<void>;
  /** Rows per statement at most. */
  readonly maxBatch?: number;
  /** Statements in flight at once; rows arriving while all are busy wait and go together in the next one. */
  readonly maxConcurrent?: number;
}

export interface BatchWriter<Row> {
  /** Resolves once the row is committed; rejects with the driver's error for this row. */
  write(row: Row): Promise<void>;
}

/** Rows per multi-row INSERT: far below max_allowed_packet even for RSA capsules (~1 KiB a row). */
export const DEFAULT_MAX_BATCH = 256;
/** Statements in flight: the other connections of the pool stay free for reads. */
export const DEFAULT_MAX_CONCURRENT = 2;

interface Waiting<Row> {
  readonly row: Row;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent inserts ("group commit"): a row is written at once when a statement slot is free, so a
 * lone request waits for nothing; rows that arrive while every slot is busy are written together, as one
 * multi-row INSERT, as soon as a slot frees. No timer: the batch is whatever queued during the previous
 * statement, so batches grow with load and vanish without it. Each request is answered only after the
 * statement holding its row has committed (autocommit: one statement, one transaction).
 *
 * A failed statement wrote nothing (statements are atomic on InnoDB and SQLite). When the database is
 * unavailable every row of the batch gets that error; any other failure (a duplicate id, a row the database
 * refuses) is one row's fault, so each row is then written alone and answered with its own outcome.
 */
export function createBatchWriter<Row>({
  insertMany,
  maxBatch = DEFAULT_MAX_BATCH,
  maxConcurrent = DEFAULT_MAX_CONCURRENT,
}: BatchWriterOptions<Row>): BatchWriter<Row> {
  const queue: Waiting<Row>[] = [];
  let running = 0;

  const writeAlone = (waiting: Waiting<Row>): Promise<void> =>
    insertMany([waiting.row]).then(waiting.resolve, waiting.reject);

  const flush = async (batch: Waiting<Row>[]): Promise<void> => {
    try {
      await insertMany(batch.map((waiting) => waiting.row));
      batch.forEach((waiting) => waiting.resolve());
    } catch (error) {
      const translated = translateDatabaseError(error);
      if (batch.length === 1 || (isDomainError(translated) && translated.code === 'unavailable')) {
        batch.forEach((waiting) => waiting.reject(error));
        return;
      }
      await Promise.all(batch.map(writeAlone));
    }
  };

  const pump = (): void => {
    while (running < maxConcurrent && queue.length > 0) {
      running++;
      void flush(queue.splice(0, maxBatch)).finally(() => {
        running--;
        pump();
      });
    }
  };

  return {
    write: (row) =>
      new Promise<void>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        pump();
      }),
  };
}
