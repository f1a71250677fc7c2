import { expect } from 'chai';
import { runExpiryCleanup } from '../../src/domain/capsules/expiry-cleanup.js';
import { type CapsuleStore } from '../../src/domain/capsules/capsule-store.js';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { createTestClock } from '../support/test-clock.js';
import { describeEachBackend, makeCapsule, remainingIds, TABLE, storeOn } from './backends.js';

const NOW = new Date('2030-06-01T12:00:00.000Z');

/**
 * Inserts `expired` capsules expiring at or before NOW (a second apart, the first exactly at NOW) and `live` ones at
 * NOW + 1 ms, NOW + 2 ms, …; returns the live ids sorted, and in expiry order.
 */
async function seed(
  store: CapsuleStore,
  expired: number,
  live: number,
): Promise<{ liveIds: string[]; liveByExpiry: string[] }> {
  for (let i = 0; i < expired; i++) {
    await store.insert(makeCapsule({ expiryTime: new Date(NOW.getTime() - i * 1000) }));
  }
  const liveIds: string[] = [];
  for (let i = 1; i <= live; i++) {
    const capsule = makeCapsule({ expiryTime: new Date(NOW.getTime() + i) });
    liveIds.push(capsule.transactionId);
    await store.insert(capsule);
  }
  return { liveIds: [...liveIds].sort(), liveByExpiry: liveIds };
}

describe('Expiry cleanup on a real database', () => {
  describeEachBackend((backend) => {
    const store = storeOn(backend, createKnexCapsuleStore, [TABLE]);

    describe('runExpiryCleanup', () => {
      it('deletes at most batchSize × maxBatches per run and continues on the next run', async () => {
        const { liveIds } = await seed(store, 25, 5);
        const clock = createTestClock(NOW);
        const limits = { batchSize: 10, maxBatches: 2 };

        expect(await runExpiryCleanup([store], clock, limits)).to.equal(20);
        expect(await remainingIds(backend.db)).to.have.length(10);
        expect(await runExpiryCleanup([store], clock, limits)).to.equal(5);
        expect(await runExpiryCleanup([store], clock, limits)).to.equal(0);
        expect(await remainingIds(backend.db)).to.deep.equal(liveIds);
      });

      it('deletes the whole backlog in one run when the budget allows', async () => {
        const { liveIds } = await seed(store, 25, 5);

        expect(await runExpiryCleanup([store], createTestClock(NOW), { batchSize: 10, maxBatches: 100 })).to.equal(25);
        expect(await remainingIds(backend.db)).to.deep.equal(liveIds);
      });

      it('deletes the capsules that expire as the clock moves on', async () => {
        const { liveByExpiry } = await seed(store, 3, 5);
        const clock = createTestClock(NOW);
        const limits = { batchSize: 10, maxBatches: 10 };

        expect(await runExpiryCleanup([store], clock, limits)).to.equal(3);
        clock.advance(2);
        expect(await runExpiryCleanup([store], clock, limits)).to.equal(2);
        expect(await remainingIds(backend.db)).to.deep.equal([...liveByExpiry.slice(2)].sort());
      });
    });

    describe('two server instances on one database', () => {
      it('finds through one instance a capsule inserted through the other', async () => {
        const other = createKnexCapsuleStore(backend.open());
        const capsule = makeCapsule();
        await store.insert(capsule);

        const found = await other.findUnexpired(capsule.transactionId, NOW);
        expect(found?.transactionId).to.equal(capsule.transactionId);
        expect(Buffer.from(found?.recipientId ?? []).equals(Buffer.from(capsule.recipientId))).to.be.true;
        expect(found?.expiryTime.getTime()).to.equal(capsule.expiryTime.getTime());
      });

      it('deletes each expired row exactly once when both run the cleanup at the same time', async () => {
        const expired = 120;
        const { liveIds } = await seed(store, expired, 5);
        const other = createKnexCapsuleStore(backend.open());
        const limits = { batchSize: 7, maxBatches: 1000 };

        const counts = await Promise.all([
          runExpiryCleanup([store], createTestClock(NOW), limits),
          runExpiryCleanup([other], createTestClock(NOW), limits),
        ]);

        expect(counts[0] + counts[1], `counts ${counts.join(' + ')}`).to.equal(expired);
        expect(await remainingIds(backend.db)).to.deep.equal(liveIds);
      });

      it('deletes each expired row exactly once over repeated concurrent single-batch runs', async () => {
        const expired = 60;
        const { liveIds } = await seed(store, expired, 5);
        const stores = [store, createKnexCapsuleStore(backend.open())];
        const limits = { batchSize: 4, maxBatches: 1 };

        let total = 0;
        for (let round = 0; round < expired; round++) {
          const counts = await Promise.all(stores.map((s) => runExpiryCleanup([s], createTestClock(NOW), limits)));
          total += counts.reduce((sum, count) => sum + count, 0);
          if (counts.every((count) => count === 0)) {
            break;
          }
        }

        expect(total).to.equal(expired);
        expect(await remainingIds(backend.db)).to.deep.equal(liveIds);
      });
    });
  });
});
