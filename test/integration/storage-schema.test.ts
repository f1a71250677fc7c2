import { expect } from 'chai';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { isSchemaCurrent, migrateLatest, migrateRollbackAll } from '../../src/storage/database.js';
import { migrationNames } from '../../migrations/index.js';
import { describeEachBackend, makeCapsule, TABLE } from './backends.js';

const INDEX_NAME = 'key_capsules_expires_at_idx';

describe('Storage schema', () => {
  describeEachBackend((backend) => {
    describe('instants', () => {
      // Instants near European DST changes and mid-year, each with a non-zero millisecond part.
      const instants = [
        new Date('2030-03-31T00:59:59.999Z'),
        new Date('2030-10-27T01:30:00.007Z'),
        new Date('2030-06-01T12:00:00.123Z'),
      ];

      it('stores expiry and creation as UTC epoch milliseconds', async () => {
        for (const [i, expiryTime] of instants.entries()) {
          const createdAt = new Date(expiryTime.getTime() - 86_400_000 - i);
          const capsule = makeCapsule({ expiryTime, createdAt });
          await createKnexCapsuleStore(backend.db).insert(capsule);

          const row = (await backend.db(TABLE).where('transaction_id', capsule.transactionId).first()) as
            { expires_at: unknown; created_at: unknown } | undefined;
          expect(Number(row?.expires_at)).to.equal(expiryTime.getTime());
          expect(Number(row?.created_at)).to.equal(createdAt.getTime());
        }
      });

      if (backend.kind === 'mariadb') {
        it('reads and writes the same instants on a session in another time zone', async () => {
          const utcStore = createKnexCapsuleStore(backend.db);
          const readBefore = new Date('2030-01-01T00:00:00Z');
          const stored = makeCapsule({ expiryTime: new Date('2030-06-01T12:00:00.123Z') });
          await utcStore.insert(stored);

          // A second instance with a single connection, moved to +05:00: every statement below runs on it.
          const shifted = backend.open(1);
          await shifted.raw("SET time_zone = '+05:00'");
          const [zoneRows] = (await shifted.raw('SELECT @@session.time_zone AS zone')) as [{ zone: string }[]];
          expect(zoneRows[0]?.zone).to.equal('+05:00');

          const raw = (await shifted(TABLE).where('transaction_id', stored.transactionId).first()) as
            { expires_at: unknown } | undefined;
          expect(Number(raw?.expires_at)).to.equal(stored.expiryTime.getTime());
          const shiftedStore = createKnexCapsuleStore(shifted);
          expect((await shiftedStore.findUnexpired(stored.transactionId, readBefore))?.expiryTime.getTime()).to.equal(
            stored.expiryTime.getTime(),
          );

          // Written on +05:00, read on the UTC session: the same instant.
          const writtenShifted = makeCapsule({ expiryTime: new Date('2030-06-01T23:30:00.456Z') });
          await shiftedStore.insert(writtenShifted);
          const [stillShifted] = (await shifted.raw('SELECT @@session.time_zone AS zone')) as [{ zone: string }[]];
          expect(stillShifted[0]?.zone).to.equal('+05:00');
          expect(
            (await utcStore.findUnexpired(writtenShifted.transactionId, readBefore))?.expiryTime.getTime(),
          ).to.equal(writtenShifted.expiryTime.getTime());
        });
      }
    });

    describe('expiry index', () => {
      it(`indexes expires_at as ${INDEX_NAME}`, async () => {
        if (backend.kind === 'mariadb') {
          const rows = (await backend
            .db('information_schema.STATISTICS')
            .select({ column: 'COLUMN_NAME', sequence: 'SEQ_IN_INDEX' })
            .whereRaw('TABLE_SCHEMA = DATABASE()')
            .andWhere({ TABLE_NAME: TABLE, INDEX_NAME })) as { column: string; sequence: number }[];
          expect(rows.map((row) => [row.column, Number(row.sequence)])).to.deep.equal([['expires_at', 1]]);
        } else {
          const indexes = await backend.db.raw<{ name: string }[]>(`PRAGMA index_list('${TABLE}')`);
          expect(indexes.map((index) => index.name)).to.include(INDEX_NAME);
          const columns = await backend.db.raw<{ name: string }[]>(`PRAGMA index_info('${INDEX_NAME}')`);
          expect(columns.map((column) => column.name)).to.deep.equal(['expires_at']);
        }
      });
    });

    describe('migrations', () => {
      const hasTable = () => backend.db.schema.hasTable(TABLE);
      const appliedMigrations = async (): Promise<string[]> =>
        (await backend.db('knex_migrations').orderBy('id').pluck<string[]>('name')).map(String);

      it('starts current, with key_capsules and every migration applied in order', async () => {
        expect(await isSchemaCurrent(backend.db)).to.be.true;
        expect(await hasTable()).to.be.true;
        expect(await appliedMigrations()).to.deep.equal(migrationNames());
      });

      it('running migrateLatest again changes nothing and keeps the data', async () => {
        const capsule = makeCapsule();
        await createKnexCapsuleStore(backend.db).insert(capsule);
        const before = await backend.db('knex_migrations').select('*');

        await migrateLatest(backend.db);
        await migrateLatest(backend.db);

        expect(await backend.db('knex_migrations').select('*')).to.deep.equal(before);
        expect(await isSchemaCurrent(backend.db)).to.be.true;
        expect(
          await createKnexCapsuleStore(backend.db).findUnexpired(
            capsule.transactionId,
            new Date('2030-01-01T00:00:00Z'),
          ),
        ).to.not.equal(undefined);
      });

      it('migrateRollbackAll drops key_capsules and makes the schema not current; migrateLatest restores it', async () => {
        await migrateRollbackAll(backend.db);
        expect(await hasTable()).to.be.false;
        expect(await isSchemaCurrent(backend.db)).to.be.false;
        expect(await appliedMigrations()).to.deep.equal([]);

        await migrateLatest(backend.db);
        expect(await hasTable()).to.be.true;
        expect(await isSchemaCurrent(backend.db)).to.be.true;
        expect(await appliedMigrations()).to.deep.equal(migrationNames());

        // The restored table is usable, index included.
        const capsule = makeCapsule();
        const store = createKnexCapsuleStore(backend.db);
        await store.insert(capsule);
        expect(await store.findUnexpired(capsule.transactionId, new Date('2030-01-01T00:00:00Z'))).to.not.equal(
          undefined,
        );
        expect(await store.deleteExpired(capsule.expiryTime, 10)).to.equal(1);
      });
    });
  });
});
