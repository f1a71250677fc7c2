import { expect } from 'chai';
import { isDomainError } from '../../src/domain/errors.js';
import { type ShareNonce, type StoredShare } from '../../src/domain/shares/key-share.js';
import { type AddNonceResult, type ShareStore } from '../../src/domain/shares/share-store.js';
import { type Database } from '../../src/storage/database.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { makeShareNonce, makeStoredShare } from '../support/share-rows.js';
import { describeEachBackend } from './backends.js';

const SHARES = 'key_shares';
const NONCES = 'key_share_nonces';

const NOW = new Date('2030-06-01T12:00:00.000Z');
const NONCE_TTL = 300_000;

const makeShare = (): StoredShare => makeStoredShare(NOW);
const makeNonce = (shareId: string): ShareNonce => makeShareNonce(shareId, NOW, NONCE_TTL);

async function nonceRowCount(db: Database, shareId: string): Promise<number> {
  const row = (await db(NONCES).where('share_id', shareId).count({ n: '*' }).first()) as
    { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

const tally = (results: readonly AddNonceResult[]): Record<AddNonceResult, number> => ({
  added: results.filter((result) => result === 'added').length,
  'too-many': results.filter((result) => result === 'too-many').length,
  'no-share': results.filter((result) => result === 'no-share').length,
});

/**
 * Concurrent requests for the same share, as two server instances would send them: on MariaDB the calls alternate
 * between two Knex instances (two connection pools); SQLite is the single-instance embedded store, so one instance.
 */
describe('Knex share store under concurrent requests', () => {
  describeEachBackend((backend) => {
    let stores: ShareStore[];
    before(() => {
      const first = createKnexShareStore(backend.db);
      stores = backend.kind === 'mariadb' ? [first, createKnexShareStore(backend.open())] : [first];
    });
    beforeEach(async () => {
      await backend.db(NONCES).delete();
      await backend.db(SHARES).delete();
    });

    const storeFor = (i: number): ShareStore => stores[i % stores.length] as ShareStore;

    const storedShare = async (): Promise<StoredShare> => {
      const share = makeShare();
      await storeFor(0).insert(share);
      return share;
    };

    describe('addNonce', () => {
      it("keeps the bound: 40 concurrent calls with maxLive 16 give 16 'added', 24 'too-many' and 16 rows", async () => {
        const share = await storedShare();
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => storeFor(i).addNonce(makeNonce(share.shareId), 16, NOW)),
        );
        expect(tally(results)).to.deep.equal({ added: 16, 'too-many': 24, 'no-share': 0 });
        expect(await nonceRowCount(backend.db, share.shareId)).to.equal(16);
      });

      it('keeps the bound of each share when several shares get concurrent calls at once', async () => {
        const shares = [await storedShare(), await storedShare(), await storedShare()];
        const calls = Array.from({ length: 60 }, (_, i) => ({
          shareId: (shares[i % shares.length] as StoredShare).shareId,
          store: storeFor(Math.floor(i / shares.length)),
        }));
        const results = await Promise.all(
          calls.map(({ shareId, store }) =>
            store.addNonce(makeNonce(shareId), 5, NOW).then((result) => ({ shareId, result })),
          ),
        );
        for (const share of shares) {
          const mine = results.filter((entry) => entry.shareId === share.shareId).map((entry) => entry.result);
          expect(tally(mine), share.shareId).to.deep.equal({ added: 5, 'too-many': 15, 'no-share': 0 });
          expect(await nonceRowCount(backend.db, share.shareId)).to.equal(5);
        }
      });
      if (backend.kind === 'sqlite') {
        it('keeps the bound across two instances on one SQLite file and fails only with unavailable', async () => {
          const share = await storedShare();
          const pair = [stores[0] as ShareStore, createKnexShareStore(backend.open())];
          const settled = await Promise.allSettled(
            Array.from({ length: 40 }, (_, i) =>
              (pair[i % 2] as ShareStore).addNonce(makeNonce(share.shareId), 16, NOW),
            ),
          );
          const failures = settled.flatMap((entry) => (entry.status === 'rejected' ? [entry.reason as unknown] : []));
          for (const failure of failures) {
            expect(isDomainError(failure) && failure.code === 'unavailable', String(failure)).to.be.true;
          }
          const results = settled.flatMap((entry) => (entry.status === 'fulfilled' ? [entry.value] : []));
          expect(tally(results).added).to.equal(16);
          expect(await nonceRowCount(backend.db, share.shareId)).to.equal(16);
        });
      }
    });

    describe('consumeNonce', () => {
      it('lets exactly one of 20 concurrent calls for the same nonce succeed, and removes the row', async () => {
        const share = await storedShare();
        const nonce = makeNonce(share.shareId);
        const other = makeNonce(share.shareId);
        expect(await storeFor(0).addNonce(nonce, 16, NOW)).to.equal('added');
        expect(await storeFor(1).addNonce(other, 16, NOW)).to.equal('added');

        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => storeFor(i).consumeNonce(share.shareId, nonce.nonce, NOW)),
        );
        expect(results.filter((result) => result)).to.have.length(1);
        expect(await nonceRowCount(backend.db, share.shareId)).to.equal(1);
        expect(await storeFor(1).consumeNonce(share.shareId, other.nonce, NOW)).to.equal(true);
      });

      it('lets each of several nonces of one share be consumed exactly once under concurrent replays', async () => {
        const share = await storedShare();
        const nonces = Array.from({ length: 4 }, () => makeNonce(share.shareId));
        for (const nonce of nonces) {
          expect(await storeFor(0).addNonce(nonce, 16, NOW)).to.equal('added');
        }

        const attempts = Array.from({ length: 40 }, (_, i) => nonces[i % nonces.length] as ShareNonce);
        const results = await Promise.all(
          attempts.map((nonce, i) =>
            storeFor(Math.floor(i / nonces.length))
              .consumeNonce(share.shareId, nonce.nonce, NOW)
              .then((consumed) => ({ nonce: nonce.nonce, consumed })),
          ),
        );
        for (const nonce of nonces) {
          const wins = results.filter((entry) => entry.nonce === nonce.nonce && entry.consumed);
          expect(wins, nonce.nonce).to.have.length(1);
        }
        expect(await nonceRowCount(backend.db, share.shareId)).to.equal(0);
      });
    });
  });
});
