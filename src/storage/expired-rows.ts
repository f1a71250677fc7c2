import type { Knex } from 'knex';

/**
 * Deletes at most `limit` rows of `table` whose `expires_at` is at or before `now`, oldest first, and returns how
 * many it deleted. Select, then delete by key: portable (SQLite has no DELETE … LIMIT), each statement stays short,
 * and the expiry condition is repeated so that a row is never deleted on a stale reading. Several instances may
 * run it at once: each row is deleted by exactly one of them.
 */
export async function deleteExpiredRows(
  db: Knex,
  table: string,
  key: string,
  now: Date,
  limit: number,
): Promise<number> {
  const ids: unknown[] = await db(table)
    .where('expires_at', '<=', now.getTime())
    .orderBy('expires_at')
    .limit(limit)
    .pluck(key);
  if (ids.length === 0) {
    return 0;
  }
  return db(table)
    .whereIn(key, ids as readonly string[])
    .andWhere('expires_at', '<=', now.getTime())
    .delete();
}
