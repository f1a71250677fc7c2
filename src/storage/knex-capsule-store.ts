import type { Knex } from 'knex';
import type { CapsuleStore } from '../domain/capsules/capsule-store.js';
import type { StoredCapsule } from '../domain/capsules/capsule.js';
import { isCapsuleType } from '../domain/capsules/capsule-types.js';
import { createBatcher, createBatchWriter } from './batch-writer.js';
import { withDatabaseErrors } from './database-errors.js';
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

/** A read of one capsule: its id, and the instant its expiry must be later than. */
interface Lookup {
  readonly transactionId: string;
  readonly now: number;
}

/**
 * Concurrent reads by id share one `SELECT … WHERE transaction_id IN (…)` (storage/batch-writer.ts: a lone read is
 * sent at once). The profile of the GET paths showed a statement per request, its build in Knex, its packet in
 * mysql2 and its socket write, as a third of the server's time. Each lookup keeps its own `now`: the statement asks
 * for rows unexpired at the earliest of them, and each lookup is then held to its own.
 */
const READ_SLOTS = 4;

export function createKnexCapsuleStore(db: Knex): CapsuleStore {
  // Concurrent creates share multi-row INSERTs (storage/batch-writer.ts).
  const writer = createBatchWriter<CapsuleRow>({
    insertMany: async (rows) => {
      await db<CapsuleRow>(TABLE).insert([...rows]);
    },
  });
  const reader = createBatcher<Lookup, CapsuleRow | undefined>({
    maxConcurrent: READ_SLOTS,
    runMany: async (lookups) => {
      const ids = [...new Set(lookups.map((lookup) => lookup.transactionId))];
      const rows = await db<CapsuleRow>(TABLE)
        .whereIn('transaction_id', ids)
        .andWhere('expires_at', '>', Math.min(...lookups.map((lookup) => lookup.now)));
      const byId = new Map(rows.map((row) => [idOf(row), row]));
      return lookups.map(({ transactionId, now }) => {
        const row = byId.get(transactionId);
        return row && Number(row.expires_at) > now ? row : undefined;
      });
    },
  });
  return {
    insert: (capsule) => withDatabaseErrors(db, () => writer.write(toRow(capsule))),

    findUnexpired: (transactionId, now) =>
      withDatabaseErrors(db, async () => {
        const row = await reader.run({ transactionId, now: now.getTime() });
        return row ? fromRow(row) : undefined;
      }),

    deleteExpired: (now, limit) =>
      withDatabaseErrors(db, () => deleteExpiredRows(db, TABLE, 'transaction_id', now, limit)),
  };
}
