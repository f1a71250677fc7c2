import { expect } from 'chai';
import { IdConflictError } from '../../src/domain/errors.js';
import { type ShareNonce, type StoredShare } from '../../src/domain/shares/key-share.js';
import { type AddNonceResult, type ShareStore } from '../../src/domain/shares/share-store.js';
import { type Database } from '../../src/storage/database.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { makeShareNonce, makeStoredShare } from '../support/share-rows.js';
import { describeEachBackend } from './backends.js';

const SHARES = 'key_shares';
const NONCES = 'key_share_nonces';
const NOW = new Date('2030-06-01T12:00:00.000Z');

/** Counts the transactions of nonce requests `db` runs: each begins by counting its requests on the share rows. */
function watchNonceTransactions(db: Database): { count: number } {
  const seen = { count: 0 };
  db.on('query', (query: { sql: string }) => {
    if (/^update [`"]key_shares[`"] set [`"]nonce_requests[`"]/i.test(query.sql)) {
      seen.count++;
    }
  });
  return seen;
}

const liveNonceRow = (db: Database, nonce: ShareNonce): Promise<unknown> =>
  db(NONCES).where({ share_id: nonce.shareId, nonce: nonce.nonce }).first();

async function liveNonces(db: Database, shareId: string): Promise<number> {
  const row = (await db(NONCES).where('share_id', shareId).count({ n: '*' }).first()) as
    { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * Coalesced nonce requests (src/storage/knex-share-store.ts, one transaction per batch on MariaDB; one statement per
 * request on SQLite): the per-share bound stays exact, every request gets its own answer, nonces stay single-use.
 */
describe('nonce requests under load', () => {
  describeEachBackend((backend) => {
    let stores: ShareStore[];
    before(() => {
      stores = [createKnexShareStore(backend.db), createKnexShareStore(backend.open())];
    });
    beforeEach(async () => {
      await backend.db(NONCES).delete();
      await backend.db(SHARES).delete();
    });

    const storedShares = async (count: number, expiredToo = false): Promise<StoredShare[]> => {
      const shares = Array.from({ length: count }, () => makeStoredShare(NOW));
      if (expiredToo) {
        shares.push({ ...makeStoredShare(NOW), expiryTime: new Date(NOW.getTime() - 1) });
      }
      await Promise.all(shares.map((share) => (stores[0] as ShareStore).insert(share)));
      return shares;
    };

    it('keeps each bound exact for 40 concurrent requests over 3 shares, and answers no-share for an unknown and an expired one', async () => {
      const shares = await storedShares(3, true);
      const unknown = makeStoredShare(NOW).shareId;
      const targets = [...shares.map((share) => share.shareId), unknown];
      // 8 requests for each of the three live shares (bound 6), the expired share and the unknown id: 40 in all.
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const shareId = targets[i % targets.length] as string;
          return (stores[i % 2] as ShareStore)
            .addNonce(makeShareNonce(shareId, NOW), 6, NOW)
            .then((result) => ({ shareId, result }));
        }),
      );
      const answers = (shareId: string): AddNonceResult[] =>
        results.filter((entry) => entry.shareId === shareId).map((entry) => entry.result);
      for (const share of shares.slice(0, 3)) {
        expect(answers(share.shareId).sort(), share.shareId).to.deep.equal([
          ...Array<AddNonceResult>(6).fill('added'),
          ...Array<AddNonceResult>(2).fill('too-many'),
        ]);
        expect(await liveNonces(backend.db, share.shareId)).to.equal(6);
      }
      for (const shareId of [(shares[3] as StoredShare).shareId, unknown]) {
        expect(answers(shareId)).to.deep.equal(Array<AddNonceResult>(8).fill('no-share'));
        expect(await liveNonces(backend.db, shareId)).to.equal(0);
      }
    });

    it('makes every nonce of a burst single-use: of two concurrent consumptions exactly one succeeds', async () => {
      const shares = await storedShares(2);
      const nonces = Array.from({ length: 24 }, (_, i) => makeShareNonce((shares[i % 2] as StoredShare).shareId, NOW));
      const added = await Promise.all(nonces.map((nonce, i) => (stores[i % 2] as ShareStore).addNonce(nonce, 16, NOW)));
      expect(added).to.deep.equal(Array<AddNonceResult>(24).fill('added'));
      const consumed = await Promise.all(
        nonces.flatMap((nonce) => stores.map((store) => store.consumeNonce(nonce.shareId, nonce.nonce, NOW))),
      );
      for (let i = 0; i < nonces.length; i++) {
        expect([consumed[2 * i], consumed[2 * i + 1]].sort(), `nonce ${i}`).to.deep.equal([false, true]);
      }
      expect(await liveNonces(backend.db, (shares[0] as StoredShare).shareId)).to.equal(0);
    });

    if (backend.kind === 'mariadb') {
      it('runs a lone request at once, in one transaction of its own', async () => {
        const db = backend.open();
        const transactions = watchNonceTransactions(db);
        const [share] = await storedShares(1);
        const store = createKnexShareStore(db);
        const started = performance.now();
        expect(await store.addNonce(makeShareNonce((share as StoredShare).shareId, NOW), 16, NOW)).to.equal('added');
        expect(transactions.count).to.equal(1);
        // No timer: nothing waits for company (generous against a loaded machine, far below a batching window).
        expect(performance.now() - started).to.be.lessThan(1000);
      });

      it('coalesces 40 concurrent requests into fewer transactions, answering each after its nonce is committed', async () => {
        const db = backend.open();
        const transactions = watchNonceTransactions(db);
        const shares = await storedShares(5);
        const store = createKnexShareStore(db);
        const nonces = Array.from({ length: 40 }, (_, i) =>
          makeShareNonce((shares[i % shares.length] as StoredShare).shareId, NOW),
        );
        const visible = await Promise.all(
          nonces.map(async (nonce) => {
            expect(await store.addNonce(nonce, 16, NOW)).to.equal('added');
            // Answered only after commit: another connection already finds the nonce.
            return (await liveNonceRow(backend.db, nonce)) !== undefined;
          }),
        );
        expect(visible.filter((found) => found)).to.have.length(40);
        expect(transactions.count).to.be.within(1, 39);
        const counted = await backend.db(SHARES).sum({ n: 'nonce_requests' }).first();
        expect(Number((counted as { n: number | string }).n)).to.equal(40);
      });

      it('answers a duplicate nonce in a burst with IdConflictError for that request only, and adds every other', async () => {
        const [share] = await storedShares(1);
        const shareId = (share as StoredShare).shareId;
        const store = stores[0] as ShareStore;
        const nonces: ShareNonce[] = Array.from({ length: 20 }, () => makeShareNonce(shareId, NOW));
        nonces.splice(12, 0, { ...(nonces[11] as ShareNonce) });
        const settled = await Promise.allSettled(nonces.map((nonce) => store.addNonce(nonce, 100, NOW)));
        const conflicts = settled.filter((entry) => entry.status === 'rejected');
        expect(conflicts).to.have.length(1);
        expect((conflicts[0] as PromiseRejectedResult).reason).to.be.instanceOf(IdConflictError);
        expect(settled.filter((entry) => entry.status === 'fulfilled' && entry.value === 'added')).to.have.length(20);
        expect(await liveNonces(backend.db, shareId)).to.equal(20);
      });
    }
  });
});
