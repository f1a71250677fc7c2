import type { Knex } from 'knex';
import type { ShareNonce, StoredShare } from '../domain/shares/key-share.js';
import type { AddNonceResult, ShareStore } from '../domain/shares/share-store.js';
import { createBatcher, createBatchWriter, createLookupBatcher } from './batch-writer.js';
import { withDatabaseErrors } from './database-errors.js';
import { insertFreshRows, statementBefore, transactionBefore, type WriteDeadline } from './write-deadline.js';
import { deleteExpiredRows } from './expired-rows.js';

const SHARES = 'key_shares';
const NONCES = 'key_share_nonces';

/** Binary columns on MySQL-compatible servers read back as Buffers; SQLite gives strings. */
type Text = string | Buffer;

const text = (value: Text): string => (Buffer.isBuffer(value) ? value.toString('utf8') : value);

interface ShareRow {
  share_id: Text;
  share: Buffer | Uint8Array;
  recipient: Text;
  expires_at: number | string;
  expiry_adjusted: number | boolean;
  created_at: number | string;
}

interface NonceRow {
  share_id: Text;
  nonce: Text;
  created_at: number;
  expires_at: number;
}

const toShareRow = (share: StoredShare): ShareRow => ({
  share_id: share.shareId,
  share: Buffer.from(share.share),
  recipient: share.recipient,
  expires_at: share.expiryTime.getTime(),
  expiry_adjusted: share.expiryTimeAdjusted,
  created_at: share.createdAt.getTime(),
});

const fromShareRow = (row: ShareRow): StoredShare => ({
  shareId: text(row.share_id),
  share: new Uint8Array(row.share),
  recipient: text(row.recipient),
  expiryTime: new Date(Number(row.expires_at)),
  expiryTimeAdjusted: Boolean(row.expiry_adjusted),
  createdAt: new Date(Number(row.created_at)),
});

interface NonceRequest {
  readonly nonce: ShareNonce;
  readonly maxLive: number;
  readonly now: Date;
}

/**
 * The code of the driver's write-conflict error: withDatabaseErrors runs the operation again, as it does after a
 * Galera certification failure.
 */
class ShareAppearedError extends Error {
  readonly code = 'ER_LOCK_DEADLOCK';
  constructor() {
    super('a share appeared during a nonce transaction');
  }
}

/** The shares among `shareIds` that exist and have not expired at `now`, with their live nonces. */
const liveNonceCounts = (
  trx: Knex,
  shareIds: readonly string[],
  now: number,
): Promise<{ share_id: Text; live: number | string }[]> =>
  trx(`${SHARES} as s`)
    .leftJoin(`${NONCES} as n`, (join) => {
      join.on('n.share_id', '=', 's.share_id').andOn('n.expires_at', '>', trx.raw('?', [now]));
    })
    .whereIn('s.share_id', shareIds)
    .andWhere('s.expires_at', '>', now)
    .groupBy('s.share_id')
    .select('s.share_id', trx.raw('COUNT(n.nonce) AS live'));

const toNonceRow = (nonce: ShareNonce): NonceRow => ({
  share_id: nonce.shareId,
  nonce: nonce.nonce,
  created_at: nonce.createdAt.getTime(),
  expires_at: nonce.expiresAt.getTime(),
});

export function createKnexShareStore(db: Knex): ShareStore {
  const mysql = (db.client as { config: { client: string } }).config.client === 'mysql2';

  /** Deletes the nonce if it is live at `now`: true when this statement is the one that deleted it. */
  const deleteNonce = async (on: Knex, shareId: string, nonce: string, now: Date): Promise<boolean> =>
    (await on<NonceRow>(NONCES)
      .where({ share_id: shareId, nonce })
      .andWhere('expires_at', '>', now.getTime())
      .delete()) === 1;

  /** Deletes these nonces (by their primary key). */
  const deleteNonces = (rows: readonly NonceRow[]): Promise<number> =>
    rows.length === 0
      ? Promise.resolve(0)
      : db<NonceRow>(NONCES)
          .whereIn(
            ['share_id', 'nonce'],
            rows.map((row) => [row.share_id, row.nonce]),
          )
          .delete();

  /**
   * MySQL-compatible servers: a batch of concurrent nonce requests (createBatcher: a lone request is run at once, as a
   * batch of one) is one transaction of three statements, whatever its size:
   * 1. count the requests on their share rows (see migrations/…-add-share-nonce-requests.ts). Writing the share row
   *    serialises nonce requests for one share across instances: on one server by its row lock, on a Galera cluster
   *    by certification (the loser's commit fails with a deadlock error and withDatabaseErrors runs each of its
   *    requests again, when they see the winner's nonces). A plain SELECT … FOR UPDATE is not enough on Galera: its
   *    lock does not leave the node. InnoDB locks the rows of `share_id IN (…)` in index order, so two batches
   *    touching the same shares take their locks in the same order instead of deadlocking;
   * 2. read which of the shares exist and how many live nonces each has, in one GROUP BY. This is the
   *    transaction's first plain read, so its snapshot is taken after step 1's locks were granted: it sees every
   *    nonce committed by the batch that held them before;
   * 3. insert the nonces the bound allows, in one multi-row INSERT; requests are admitted in arrival order.
   * Each request is answered when the transaction has committed. All requests of a batch are judged at the latest
   * `now` among them: a share or nonce that expired between two of them is expired for all.
   */
  const addNoncesLocked = (requests: readonly NonceRequest[], deadline: WriteDeadline): Promise<AddNonceResult[]> => {
    const admitted: NonceRow[] = [];
    return transactionBefore(
      db,
      deadline,
      async (trx) => {
        const now = Math.max(...requests.map((request) => request.now.getTime()));
        const perShare = new Map<string, number>();
        for (const { nonce } of requests) {
          perShare.set(nonce.shareId, (perShare.get(nonce.shareId) ?? 0) + 1);
        }
        const shareIds = [...perShare.keys()].sort();
        const counted = await trx<ShareRow>(SHARES)
          .whereIn('share_id', shareIds)
          .andWhere('expires_at', '>', now)
          .update({
            nonce_requests: trx.raw(
              `nonce_requests + CASE share_id ${shareIds.map(() => 'WHEN ? THEN ?').join(' ')} END`,
              [...shareIds.flatMap((id) => [id, perShare.get(id) as number])],
            ),
          } as never);
        const found = counted === 0 ? [] : await liveNonceCounts(trx, shareIds, now);
        if (found.length !== counted) {
          // A share committed between steps 1 and 2 (its id guessed before its creation was answered): it is
          // visible but not locked. Answered as a write conflict, so that the batch's requests are run again.
          throw new ShareAppearedError();
        }
        const live = new Map(found.map((row) => [text(row.share_id), Number(row.live)]));
        const results = requests.map(({ nonce, maxLive }): AddNonceResult => {
          const count = live.get(nonce.shareId);
          if (count === undefined) {
            return 'no-share';
          }
          if (count >= maxLive) {
            return 'too-many';
          }
          live.set(nonce.shareId, count + 1);
          admitted.push(toNonceRow(nonce));
          return 'added';
        });
        if (admitted.length > 0) {
          await trx<NonceRow>(NONCES).insert(admitted);
        }
        return results;
      },
      {
        // The nonces of a COMMIT answered too late were never handed out: they would only hold places of the bound.
        undoLateCommit: () => deleteNonces(admitted),
      },
    );
  };

  /**
   * SQLite: one INSERT … SELECT whose conditions are the share's existence and the bound. A single statement is
   * atomic even with several processes on one file, where a read-then-write transaction would fail with
   * SQLITE_BUSY_SNAPSHOT instead of waiting.
   */
  const addNonceInOneStatement = async (
    nonce: ShareNonce,
    maxLive: number,
    now: Date,
    deadline: WriteDeadline,
  ): Promise<AddNonceResult> => {
    const row = toNonceRow(nonce);
    // better-sqlite3 reports the statement's effect as { changes, lastInsertRowid }.
    const result = await statementBefore(db, deadline, () =>
      db.raw<{ changes: number }>(
        `INSERT INTO ${NONCES} (share_id, nonce, created_at, expires_at)
       SELECT ?, ?, ?, ?
       WHERE EXISTS (SELECT 1 FROM ${SHARES} WHERE share_id = ? AND expires_at > ?)
         AND (SELECT COUNT(*) FROM ${NONCES} WHERE share_id = ? AND expires_at > ?) < ?`,
        [
          row.share_id,
          row.nonce,
          row.created_at,
          row.expires_at,
          row.share_id,
          now.getTime(),
          row.share_id,
          now.getTime(),
          maxLive,
        ],
      ),
    );
    if (result.changes === 1) {
      return 'added';
    }
    const share = await db<ShareRow>(SHARES)
      .where('share_id', nonce.shareId)
      .andWhere('expires_at', '>', now.getTime())
      .first('share_id');
    return share ? 'too-many' : 'no-share';
  };

  /**
   * After a write conflict (on a Galera cluster: another node's transaction won the share row): the answer when a
   * plain read already gives it, a share gone or its bound reached, so that a request that can only be refused does
   * not contend for the row again. Sound because the read is a moment at which the answer held (with
   * wsrep_sync_wait it sees every nonce the cluster had committed); an admission is only ever made by the locked
   * transaction.
   */
  const settledWithoutWriting = async (
    shareId: string,
    maxLive: number,
    now: Date,
  ): Promise<AddNonceResult | undefined> => {
    const [row] = await liveNonceCounts(db, [shareId], now.getTime());
    if (!row) {
      return 'no-share';
    }
    return Number(row.live) >= maxLive ? 'too-many' : undefined;
  };

  // Concurrent nonce requests share one transaction (storage/batch-writer.ts); SQLite runs each in one statement.
  const nonceBatcher = mysql ? createBatcher({ runMany: addNoncesLocked }) : undefined;

  // Concurrent reads by id share one SELECT (storage/batch-writer.ts).
  const shareReader = createLookupBatcher<ShareRow>({
    select: (ids, earliest) =>
      db<ShareRow>(SHARES)
        .whereIn('share_id', [...ids])
        .andWhere('expires_at', '>', earliest),
    idOf: (row) => text(row.share_id),
    expiresAt: (row) => Number(row.expires_at),
  });

  // Concurrent creates share multi-row INSERTs (storage/batch-writer.ts).
  const shareWriter = createBatchWriter<ShareRow>({
    // Rolled back past the deadline, deleted again after a COMMIT answered too late (write-deadline.ts).
    insertMany: insertFreshRows<ShareRow>(db, SHARES, 'share_id'),
  });

  return {
    insert: (share) => withDatabaseErrors(db, (deadline) => shareWriter.write(toShareRow(share), deadline)),

    findUnexpired: (shareId, now) =>
      withDatabaseErrors(db, async () => {
        const row = await shareReader.run({ id: shareId, now: now.getTime() });
        return row ? fromShareRow(row) : undefined;
      }),

    addNonce: (nonce, maxLive, now) =>
      withDatabaseErrors(db, async (deadline, run) => {
        if (!nonceBatcher) {
          return addNonceInOneStatement(nonce, maxLive, now, deadline);
        }
        if (run > 1) {
          const settled = await settledWithoutWriting(nonce.shareId, maxLive, now);
          if (settled) {
            return settled;
          }
        }
        return nonceBatcher.run({ nonce, maxLive, now }, deadline);
      }),

    consumeNonce: (shareId, nonce, now) =>
      withDatabaseErrors(db, (deadline) =>
        // One DELETE is the atomic "check and use": of two concurrent requests, exactly one deletes the row (on one
        // server the second waits on the row lock; on Galera the second COMMIT fails certification, and its re-run
        // deletes nothing). It runs in a transaction so that the nonce is used only if the request is answered by
        // it: a DELETE answered after the deadline is rolled back (503, the nonce stays usable), one whose COMMIT
        // was sent in time is answered by that COMMIT's outcome (README "Shutdown and database outages"). SQLite
        // runs the DELETE alone, as its own COMMIT (statementBefore says why).
        mysql
          ? transactionBefore(db, deadline, async (trx) => deleteNonce(trx, shareId, nonce, now))
          : statementBefore(db, deadline, () => deleteNonce(db, shareId, nonce, now)),
      ),

    // The nonces of a deleted share go with it (ON DELETE CASCADE).
    deleteExpired: (now, limit) => withDatabaseErrors(db, () => deleteExpiredRows(db, SHARES, 'share_id', now, limit)),

    deleteStaleNonces: (now, limit) =>
      withDatabaseErrors(db, async () => {
        const stale = await db<NonceRow>(NONCES)
          .where('expires_at', '<=', now.getTime())
          .orderBy('expires_at')
          .limit(limit)
          .select('share_id', 'nonce');
        if (stale.length === 0) {
          return 0;
        }
        return db<NonceRow>(NONCES)
          .whereIn(
            ['share_id', 'nonce'],
            stale.map((row) => [row.share_id, row.nonce]),
          )
          .andWhere('expires_at', '<=', now.getTime())
          .delete();
      }),
  };
}
