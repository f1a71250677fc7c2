import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { type Database } from '../../src/storage/database.js';
import { describeEachBackend } from './backends.js';

const SHARES = 'key_shares';
const NONCES = 'key_share_nonces';

const EXPIRY_INDEXES = [
  { table: SHARES, index: 'key_shares_expires_at_idx' },
  { table: NONCES, index: 'key_share_nonces_expires_at_idx' },
] as const;

const NOW = Date.parse('2030-06-01T12:00:00.000Z');

const shareRow = (shareId: string) => ({
  share_id: shareId,
  share: randomBytes(32),
  recipient: 'etsi/PNOEE-48010010101',
  expires_at: NOW + 86_400_000,
  expiry_adjusted: false,
  created_at: NOW,
});

const nonceRow = (shareId: string) => ({
  share_id: shareId,
  nonce: randomBytes(12).toString('base64url'),
  created_at: NOW,
  expires_at: NOW + 300_000,
});

async function rowCount(db: Database, table: string): Promise<number> {
  const row = (await db(table).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

describe('Shares storage schema', () => {
  describeEachBackend((backend) => {
    beforeEach(async () => {
      await backend.db(NONCES).delete();
      await backend.db(SHARES).delete();
    });

    it('has key_shares and key_share_nonces after migrateLatest', async () => {
      expect(await backend.db.schema.hasTable(SHARES)).to.be.true;
      expect(await backend.db.schema.hasTable(NONCES)).to.be.true;
    });

    for (const { table, index } of EXPIRY_INDEXES) {
      it(`indexes ${table}.expires_at as ${index}`, async () => {
        if (backend.kind === 'mariadb') {
          const rows = (await backend
            .db('information_schema.STATISTICS')
            .select({ column: 'COLUMN_NAME', sequence: 'SEQ_IN_INDEX' })
            .whereRaw('TABLE_SCHEMA = DATABASE()')
            .andWhere({ TABLE_NAME: table, INDEX_NAME: index })) as { column: string; sequence: number }[];
          expect(rows.map((row) => [row.column, Number(row.sequence)])).to.deep.equal([['expires_at', 1]]);
        } else {
          const indexes = await backend.db.raw<{ name: string }[]>(`PRAGMA index_list('${table}')`);
          expect(indexes.map((entry) => entry.name)).to.include(index);
          const columns = await backend.db.raw<{ name: string }[]>(`PRAGMA index_info('${index}')`);
          expect(columns.map((column) => column.name)).to.deep.equal(['expires_at']);
        }
      });
    }

    it('refuses a nonce row whose share_id is not a stored share (foreign key)', async () => {
      const stored = randomBytes(16).toString('hex');
      await backend.db(SHARES).insert(shareRow(stored));

      let refused: unknown;
      try {
        await backend.db(NONCES).insert(nonceRow(randomBytes(16).toString('hex')));
      } catch (error) {
        refused = error;
      }
      expect(refused, 'insert of an orphan nonce').to.be.instanceOf(Error);
      expect(String((refused as { code?: unknown }).code)).to.match(/FOREIGN|ER_NO_REFERENCED_ROW/);
      expect(await rowCount(backend.db, NONCES)).to.equal(0);

      await backend.db(NONCES).insert(nonceRow(stored));
      expect(await rowCount(backend.db, NONCES)).to.equal(1);
    });

    it('refuses a nonce row for a case variant of a stored share id (the foreign key compares exactly)', async () => {
      const stored = `ab${randomBytes(15).toString('hex')}`;
      await backend.db(SHARES).insert(shareRow(stored));

      let refused: unknown;
      try {
        await backend.db(NONCES).insert(nonceRow(stored.toUpperCase()));
      } catch (error) {
        refused = error;
      }
      expect(refused, 'insert of a nonce for a case variant').to.be.instanceOf(Error);
      expect(await rowCount(backend.db, NONCES)).to.equal(0);
    });

    it('removes the nonces of a share deleted directly (ON DELETE CASCADE)', async () => {
      const deleted = randomBytes(16).toString('hex');
      const kept = randomBytes(16).toString('hex');
      await backend.db(SHARES).insert([shareRow(deleted), shareRow(kept)]);
      await backend.db(NONCES).insert([nonceRow(deleted), nonceRow(deleted), nonceRow(kept)]);

      await backend.db(SHARES).where('share_id', deleted).delete();
      expect(await rowCount(backend.db, NONCES)).to.equal(1);
      expect(await rowCount(backend.db, SHARES)).to.equal(1);
    });

    it('refuses the same nonce twice for one share and accepts it for another share (key share_id, nonce)', async () => {
      const first = randomBytes(16).toString('hex');
      const second = randomBytes(16).toString('hex');
      await backend.db(SHARES).insert([shareRow(first), shareRow(second)]);
      const row = nonceRow(first);
      await backend.db(NONCES).insert(row);

      let refused: unknown;
      try {
        await backend.db(NONCES).insert({ ...row, expires_at: row.expires_at + 1 });
      } catch (error) {
        refused = error;
      }
      expect(refused, 'duplicate (share_id, nonce)').to.be.instanceOf(Error);
      await backend.db(NONCES).insert({ ...row, share_id: second });
      expect(await rowCount(backend.db, NONCES)).to.equal(2);
    });
  });
});
