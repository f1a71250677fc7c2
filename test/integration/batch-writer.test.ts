import { expect } from 'chai';
import { isDomainError, IdConflictError } from '../../src/domain/errors.js';
import { createDatabase, migrateLatest, type Database } from '../../src/storage/database.js';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-mariadb.js';
import { makeShareNonce, makeStoredShare } from '../support/share-rows.js';
import { bytes, describeEachBackend, makeCapsule, remainingIds, TABLE } from './backends.js';

/** Counts the statements starting with `start` (`insert into`, `select * from`) on `table` that `db` sends, and the values each carried. */
function watchStatements(db: Database, table: string, start = 'insert into'): number[] {
  const valuesPerStatement: number[] = [];
  db.on('query', (query: { sql: string; bindings?: unknown[] }) => {
    if (query.sql.toLowerCase().startsWith(`${start} \`${table}\``) || query.sql.startsWith(`${start} "${table}"`)) {
      valuesPerStatement.push(query.bindings?.length ?? 0);
    }
  });
  return valuesPerStatement;
}

const outcomes = (pending: readonly Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> =>
  Promise.allSettled(pending);

/** Every failed request of a burst failed as an outage (503 / UNAVAILABLE), never as an internal error. */
function expectOnlyUnavailable(results: readonly PromiseSettledResult<unknown>[]): void {
  for (const result of results) {
    if (result.status === 'rejected') {
      const reason: unknown = result.reason;
      expect(isDomainError(reason) && reason.code, String(reason)).to.equal('unavailable');
    }
  }
}

/** Coalesced inserts and reads (src/storage/batch-writer.ts) through the real capsule and share stores. */
describe('coalesced inserts', () => {
  describeEachBackend((backend) => {
    beforeEach(async () => {
      await backend.db(TABLE).delete();
    });

    it('writes a lone insert at once, as one single-row statement', async () => {
      const db = backend.open();
      const statements = watchStatements(db, TABLE);
      const capsule = makeCapsule();
      await createKnexCapsuleStore(db).insert(capsule);
      expect(statements).to.deep.equal([7]);
      expect(await remainingIds(backend.db)).to.deep.equal([capsule.transactionId]);
    });

    it('writes 64 concurrent inserts in fewer statements than rows, and acknowledges each after its row is stored', async () => {
      const db = backend.open();
      const statements = watchStatements(db, TABLE);
      const store = createKnexCapsuleStore(db);
      const capsules = Array.from({ length: 64 }, () => makeCapsule());
      const seen: string[][] = [];
      await Promise.all(
        capsules.map((capsule) =>
          store.insert(capsule).then(async () => {
            // Acknowledged only once committed: another connection already reads the row.
            const found = await createKnexCapsuleStore(backend.db).findUnexpired(
              capsule.transactionId,
              new Date('2030-01-01T00:00:00Z'),
            );
            seen.push(found ? [found.transactionId] : []);
          }),
        ),
      );
      expect(seen.flat()).to.have.length(64);
      expect(await remainingIds(backend.db)).to.deep.equal(capsules.map((c) => c.transactionId).sort());
      expect(statements.length).to.be.lessThan(64);
      expect(statements.reduce((sum, bindings) => sum + bindings / 7, 0)).to.equal(64);
    });

    it('answers a duplicate id in a batch with IdConflictError for that request only, and stores every other row', async () => {
      const store = createKnexCapsuleStore(backend.open());
      const existing = makeCapsule();
      await store.insert(existing);
      const fresh = Array.from({ length: 20 }, () => makeCapsule());
      const batch = [...fresh.slice(0, 10), makeCapsule({ transactionId: existing.transactionId }), ...fresh.slice(10)];
      const results = await outcomes(batch.map((capsule) => store.insert(capsule)));
      results.forEach((result, i) => {
        if (i === 10) {
          expect(result.status).to.equal('rejected');
          expect((result as PromiseRejectedResult).reason).to.be.instanceOf(IdConflictError);
        } else {
          expect(result.status, `request ${i}`).to.equal('fulfilled');
        }
      });
      expect(await remainingIds(backend.db)).to.deep.equal(
        [existing, ...fresh].map((capsule) => capsule.transactionId).sort(),
      );
    });

    it('coalesces concurrent share creates too, each stored under its own id', async () => {
      const db = backend.open();
      const statements = watchStatements(db, 'key_shares');
      const store = createKnexShareStore(db);
      const shares = Array.from({ length: 32 }, (_, i) => ({
        shareId: `${i.toString(16).padStart(2, '0')}${'ab'.repeat(15)}`,
        share: bytes(32),
        recipient: 'etsi/PNOEE-30303039914',
        expiryTime: new Date('2030-06-01T00:00:00Z'),
        expiryTimeAdjusted: false,
        createdAt: new Date('2030-05-01T00:00:00Z'),
      }));
      await Promise.all(shares.map((share) => store.insert(share)));
      expect(statements.length).to.be.lessThan(32);
      for (const share of shares) {
        const found = await store.findUnexpired(share.shareId, new Date('2030-01-01T00:00:00Z'));
        expect(Buffer.from(found?.share ?? []).equals(Buffer.from(share.share))).to.equal(true);
      }
    });

    // Reads by id are coalesced too (one SELECT … IN (…)).
    it('sends a lone read at once, as one statement', async () => {
      const db = backend.open();
      const statements = watchStatements(db, TABLE, 'select * from');
      const capsule = makeCapsule();
      const store = createKnexCapsuleStore(db);
      await store.insert(capsule);
      const found = await store.findUnexpired(capsule.transactionId, new Date('2030-01-01T00:00:00Z'));
      expect(found?.transactionId).to.equal(capsule.transactionId);
      expect(statements).to.have.length(1);
    });

    it('answers 64 concurrent reads in fewer statements, each with its own capsule, or none if unknown or expired at its own time', async () => {
      const db = backend.open();
      const store = createKnexCapsuleStore(db);
      const capsules = Array.from({ length: 48 }, () => makeCapsule());
      await Promise.all(capsules.map((capsule) => store.insert(capsule)));
      const statements = watchStatements(db, TABLE, 'select * from');
      const before = new Date('2030-01-01T00:00:00Z');
      // The capsules expire at 2030-06-01T12:00:00.123Z (makeCapsule): 8 reads of the same ids a year later, and
      // 8 unknown ids, among 48 reads in time.
      const after = new Date('2031-01-01T00:00:00Z');
      const reads = [
        ...capsules.map((capsule) => ({ id: capsule.transactionId, at: before, expected: capsule.transactionId })),
        ...capsules.slice(0, 8).map((capsule) => ({ id: capsule.transactionId, at: after, expected: undefined })),
        ...Array.from({ length: 8 }, () => ({ id: makeCapsule().transactionId, at: before, expected: undefined })),
      ];
      const found = await Promise.all(reads.map((read) => store.findUnexpired(read.id, read.at)));
      expect(found.map((capsule) => capsule?.transactionId)).to.deep.equal(reads.map((read) => read.expected));
      expect(found[0]?.ephemeralKeyMaterial).to.deep.equal(capsules[0]?.ephemeralKeyMaterial);
      expect(statements.length).to.be.within(1, 63);
    });

    it('coalesces concurrent share reads too: each finds its own share, an unknown or expired id finds none', async () => {
      const db = backend.open();
      const store = createKnexShareStore(db);
      const now = new Date('2030-01-01T00:00:00Z');
      const shares = Array.from({ length: 30 }, () => makeStoredShare(now));
      await Promise.all(shares.map((share) => store.insert(share)));
      const selects = watchStatements(db, 'key_shares', 'select * from');
      const ids = [...shares.map((share) => share.shareId), makeStoredShare(now).shareId];
      const found = await Promise.all([
        ...ids.map((id) => store.findUnexpired(id, now)),
        store.findUnexpired(ids[0] as string, new Date(now.getTime() + 86_400_000)),
      ]);
      expect(found.map((share) => share?.shareId)).to.deep.equal([...ids.slice(0, 30), undefined, undefined]);
      expect(selects.length).to.be.within(1, 31);
    });
  });

  describe('MariaDB stopped in the middle of a burst', function () {
    this.timeout(120_000);
    let mariadb: PrivateMariaDb | undefined;
    let db: Database | undefined;

    before(async () => {
      mariadb = await startPrivateMariaDb();
      db = createDatabase({ url: mariadb.url });
      await migrateLatest(db);
    });

    after(async () => {
      await db?.destroy();
      await mariadb?.destroy();
    });

    it('answers every request: acknowledged rows are stored, the others get "unavailable", none hangs', async () => {
      const store = createKnexCapsuleStore(db as Database);
      const capsules = Array.from({ length: 200 }, () => makeCapsule());
      const settled = outcomes(capsules.map((capsule) => store.insert(capsule)));
      await mariadb?.stop();
      const results = await settled;
      const acknowledged = capsules.filter((_, i) => results[i]?.status === 'fulfilled');
      expectOnlyUnavailable(results);
      await mariadb?.start();
      const stored = new Set(await remainingIds(db as Database));
      for (const capsule of acknowledged) {
        expect(stored.has(capsule.transactionId), capsule.transactionId).to.equal(true);
      }
      // And the writer works again once the database is back.
      await store.insert(makeCapsule());
    });

    it('answers every nonce request of a burst: each one answered "added" is stored, the others get "unavailable"', async () => {
      const store = createKnexShareStore(db as Database);
      const now = new Date();
      const share = makeStoredShare(now);
      await store.insert(share);
      const nonces = Array.from({ length: 200 }, () => makeShareNonce(share.shareId, now));
      const pending = nonces.map((nonce) => store.addNonce(nonce, 1000, now));
      const settled = outcomes(pending);
      // Stopped once the first batch has committed, while the later ones are queued or in flight.
      await Promise.race(pending);
      await mariadb?.stop();
      const results = await settled;
      expectOnlyUnavailable(results);
      await mariadb?.start();
      expect(results.filter((result) => result.status === 'fulfilled')).to.not.be.empty;
      const stored = new Set(
        (
          await (db as Database)('key_share_nonces')
            .where('share_id', share.shareId)
            .pluck<(string | Buffer)[]>('nonce')
        ).map(String),
      );
      nonces.forEach((nonce, i) => {
        const result = results[i];
        if (result?.status === 'fulfilled') {
          expect(result.value).to.equal('added');
          expect(stored.has(nonce.nonce), nonce.nonce).to.equal(true);
        }
      });
      // The batches work again once the database is back.
      expect(await store.addNonce(makeShareNonce(share.shareId, now), 1000, now)).to.equal('added');
    });
  });
});
