import type { Clock } from '../clock.js';

/** Anything that can delete a bounded batch of expired rows (capsules now; shares and nonces later). */
export interface ExpiredRowDeleter {
  deleteExpired(now: Date, limit: number): Promise<number>;
}

export interface CleanupLimits {
  /** Rows deleted by one statement: bounded so that a backlog never holds long locks. */
  readonly batchSize: number;
  /** Batches in one run: bounded so that one run never monopolises the database. */
  readonly maxBatches: number;
}

/**
 * One bounded cleanup run (CDOC2 spec "CDOC2 CCS" > "Server state": deleted after the validity period). It deletes
 * batch after batch until a batch comes back short or the run's budget is spent; the next run continues where it
 * stopped. Expired rows are never served even before this runs: the stores filter on expiry when they read.
 */
export async function runExpiryCleanup(
  deleters: readonly ExpiredRowDeleter[],
  clock: Clock,
  { batchSize, maxBatches }: CleanupLimits,
): Promise<number> {
  let total = 0;
  for (const deleter of deleters) {
    for (let batch = 0; batch < maxBatches; batch++) {
      const deleted = await deleter.deleteExpired(clock.now(), batchSize);
      total += deleted;
      if (deleted < batchSize) {
        break;
      }
    }
  }
  return total;
}
