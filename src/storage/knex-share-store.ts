import type { Knex } from 'knex';
import type { ShareNonce, StoredShare } from '../domain/shares/key-share.js';
import type { AddNonceResult, ShareStore } from '../domain/shares/share-store.js';
import { createBatchWriter } from './batch-writer.js';
import { withDatabaseErrors } from './database-errors.js';
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

const toNonceRow = (nonce: ShareNonce): NonceRow => ({
  share_id: nonce.shareId,
  nonce: nonce.nonce,
  created_at: nonce.createdAt.getTime(),
  expires_at: nonce.expiresAt.getTime(),
});

export function createKnexShareStore(db: Knex): ShareStore {
  const mysql = (db.client as { config: { client: string } }).config.client === 'mysql2';

  /**
   * MySQL-compatible servers: count the request on the share row (see migrations/…-add-share-nonce-requests.ts), then
   * count its live nonces and insert. Writing the share row serialises nonce requests for one share across instances:
   * on one server by its row lock, on a Galera cluster by certification (the loser's commit fails with a deadlock
   * error and withDatabaseErrors runs it again, when it sees the winner's nonce). A plain SELECT … FOR UPDATE is not
   * enough on Galera: its lock does not leave the node.
   */
  const addNonceLocked = (nonce: ShareNonce, maxLive: number, now: Date): Promise<AddNonceResult> =>
    db.transaction(async (trx) => {
      const touched = await trx<ShareRow>(SHARES)
        .where('share_id', nonce.shareId)
        .andWhere('expires_at', '>', now.getTime())
        .increment('nonce_requests', 1);
      if (touched === 0) {
        return 'no-share';
      }
      const live = await trx<NonceRow>(NONCES)
        .where('share_id', nonce.shareId)
        .andWhere('expires_at', '>', now.getTime())
        .count({ n: '*' })
        .first();
      if (Number((live as { n: number | string } | undefined)?.n ?? 0) >= maxLive) {
        return 'too-many';
      }
      await trx<NonceRow>(NONCES).insert(toNonceRow(nonce));
      return 'added';
    });

  /**
   * SQLite: one INSERT … SELECT whose conditions are the share's existence and the bound. A single statement is
   * atomic even with several processes on one file, where a read-then-write transaction would fail with
   * SQLITE_BUSY_SNAPSHOT instead of waiting.
   */
  const addNonceInOneStatement = async (nonce: ShareNonce, maxLive: number, now: Date): Promise<AddNonceResult> => {
    const row = toNonceRow(nonce);
    // better-sqlite3 reports the statement's effect as { changes, lastInsertRowid }.
    const result = await db.raw<{ changes: number }>(
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

  // Concurrent creates share multi-row INSERTs (storage/batch-writer.ts).
  const shareWriter = createBatchWriter<ShareRow>({
    insertMany: async (rows) => {
      await db<ShareRow>(SHARES).insert([...rows]);
    },
  });

  return {
    insert: (share) => withDatabaseErrors(db, () => shareWriter.write(toShareRow(share))),

    findUnexpired: (shareId, now) =>
      withDatabaseErrors(db, async () => {
        const row = await db<ShareRow>(SHARES)
          .where('share_id', shareId)
          .andWhere('expires_at', '>', now.getTime())
          .first();
        return row ? fromShareRow(row) : undefined;
      }),

    addNonce: (nonce, maxLive, now) =>
      withDatabaseErrors(db, async () =>
        mysql ? addNonceLocked(nonce, maxLive, now) : addNonceInOneStatement(nonce, maxLive, now),
      ),

    consumeNonce: (shareId, nonce, now) =>
      withDatabaseErrors(db, async () => {
        // One DELETE is the atomic "check and use": of two concurrent requests, exactly one deletes the row.
        const deleted = await db<NonceRow>(NONCES)
          .where({ share_id: shareId, nonce })
          .andWhere('expires_at', '>', now.getTime())
          .delete();
        return deleted === 1;
      }),

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
