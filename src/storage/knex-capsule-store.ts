import type { Knex } from 'knex';
import type { CapsuleStore } from '../domain/capsules/capsule-store.js';
import type { StoredCapsule } from '../domain/capsules/capsule.js';
import { isCapsuleType } from '../domain/capsules/capsule-types.js';
import { createBatchWriter, createLookupBatcher } from './batch-writer.js';
import { withDatabaseErrors } from './database-errors.js';
import { insertFreshRows } from './write-deadline.js';
import { deleteExpiredRows } from './expired-rows.js';

const TABLE = 'key_capsules';

/** The row as the database holds it (see migrations/…-create-key-capsules.ts). */
interface CapsuleRow {
  /** A string on SQLite; VARBINARY on MySQL, read back as a Buffer. */
  transaction_id: string | Buffer;
  capsule_type: string;
  recipient_id: Buffer | Uint8Array;
  ephemeral_key_material: Buffer | Uint8Array;
  expires_at: number | string | bigint;
  expiry_adjusted: number | boolean;
  created_at: number | string | bigint;
}

const toRow = (capsule: StoredCapsule): CapsuleRow => ({
  transaction_id: capsule.transactionId,
  capsule_type: capsule.capsuleType,
  recipient_id: Buffer.from(capsule.recipientId),
  ephemeral_key_material: Buffer.from(capsule.ephemeralKeyMaterial),
  expires_at: capsule.expiryTime.getTime(),
  expiry_adjusted: capsule.expiryTimeAdjusted,
  created_at: capsule.createdAt.getTime(),
});

/** VARBINARY ids read back as Buffers on MySQL-compatible servers. */
const idOf = (row: CapsuleRow): string =>
  Buffer.isBuffer(row.transaction_id) ? row.transaction_id.toString('latin1') : row.transaction_id;

const fromRow = (row: CapsuleRow): StoredCapsule => {
  const transactionId = idOf(row);
  if (!isCapsuleType(row.capsule_type)) {
    throw new Error(`key_capsules row ${transactionId} has an unknown capsule_type`);
  }
  return {
    transactionId,
    capsuleType: row.capsule_type,
    recipientId: new Uint8Array(row.recipient_id),
    ephemeralKeyMaterial: new Uint8Array(row.ephemeral_key_material),
    expiryTime: new Date(Number(row.expires_at)),
    expiryTimeAdjusted: Boolean(row.expiry_adjusted),
    createdAt: new Date(Number(row.created_at)),
  };
};

export function createKnexCapsuleStore(db: Knex): CapsuleStore {
  // Concurrent creates share multi-row INSERTs (storage/batch-writer.ts).
  const writer = createBatchWriter<CapsuleRow>({
    // Rolled back past the deadline, deleted again after a COMMIT answered too late (write-deadline.ts).
    insertMany: insertFreshRows<CapsuleRow>(db, TABLE, 'transaction_id'),
  });
  // Concurrent reads by id share one SELECT (storage/batch-writer.ts).
  const reader = createLookupBatcher<CapsuleRow>({
    select: (ids, earliest) =>
      db<CapsuleRow>(TABLE)
        .whereIn('transaction_id', [...ids])
        .andWhere('expires_at', '>', earliest),
    idOf,
    expiresAt: (row) => Number(row.expires_at),
  });
  return {
    insert: (capsule) => withDatabaseErrors(db, (deadline) => writer.write(toRow(capsule), deadline)),

    findUnexpired: (transactionId, now) =>
      withDatabaseErrors(db, async () => {
        const row = await reader.run({ id: transactionId, now: now.getTime() });
        return row ? fromRow(row) : undefined;
      }),

    deleteExpired: (now, limit) =>
      withDatabaseErrors(db, () => deleteExpiredRows(db, TABLE, 'transaction_id', now, limit)),
  };
}
