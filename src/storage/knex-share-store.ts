import type { Knex } from 'knex';
import type { ShareNonce, StoredShare } from '../domain/shares/key-share.js';
import type { ShareStore } from '../domain/shares/share-store.js';
import { withDatabaseErrors } from './database-errors.js';

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
  // SQLite serialises writers on its single connection; MySQL needs the share row locked for the bounded insert.
  const mysql = (db.client as { config: { client: string } }).config.client === 'mysql2';

  return {
    insert: (share) =>
      withDatabaseErrors(async () => {
        await db<ShareRow>(SHARES).insert(toShareRow(share));
      }),

    findUnexpired: (shareId, now) =>
      withDatabaseErrors(async () => {
        const row = await db<ShareRow>(SHARES)
          .where('share_id', shareId)
          .andWhere('expires_at', '>', now.getTime())
          .first();
        return row ? fromShareRow(row) : undefined;
      }),

    addNonce: (nonce, maxLive, now) =>
      withDatabaseErrors(() =>
        db.transaction(async (trx) => {
          // Locking the share row serialises nonce requests for one share across instances, so that the count
          // below and the insert are one atomic step.
          const shareQuery = trx<ShareRow>(SHARES)
            .where('share_id', nonce.shareId)
            .andWhere('expires_at', '>', now.getTime())
            .first('share_id');
          const share = await (mysql ? shareQuery.forUpdate() : shareQuery);
          if (!share) {
            return 'no-share' as const;
          }
          const live = await trx<NonceRow>(NONCES)
            .where('share_id', nonce.shareId)
            .andWhere('expires_at', '>', now.getTime())
            .count({ n: '*' })
            .first();
          if (Number((live as { n: number | string } | undefined)?.n ?? 0) >= maxLive) {
            return 'too-many' as const;
          }
          await trx<NonceRow>(NONCES).insert(toNonceRow(nonce));
          return 'added' as const;
        }),
      ),

    consumeNonce: (shareId, nonce, now) =>
      withDatabaseErrors(async () => {
        // One DELETE is the atomic "check and use": of two concurrent requests, exactly one deletes the row.
        const deleted = await db<NonceRow>(NONCES)
          .where({ share_id: shareId, nonce })
          .andWhere('expires_at', '>', now.getTime())
          .delete();
        return deleted === 1;
      }),

    deleteExpired: (now, limit) =>
      withDatabaseErrors(async () => {
        const ids = await db<ShareRow>(SHARES)
          .where('expires_at', '<=', now.getTime())
          .orderBy('expires_at')
          .limit(limit)
          .pluck('share_id');
        if (ids.length === 0) {
          return 0;
        }
        const deleteBatch = async (trx: Knex.Transaction): Promise<number> => {
          await trx<NonceRow>(NONCES).whereIn('share_id', ids).delete();
          return trx<ShareRow>(SHARES).whereIn('share_id', ids).andWhere('expires_at', '<=', now.getTime()).delete();
        };
        return db.transaction(deleteBatch);
      }),

    deleteStaleNonces: (now, limit) =>
      withDatabaseErrors(async () => {
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
