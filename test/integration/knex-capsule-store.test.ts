import { expect } from 'chai';
import { type StoredCapsule } from '../../src/domain/capsules/capsule.js';
import { IdConflictError } from '../../src/domain/errors.js';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { bytes, describeEachBackend, makeCapsule, newId, remainingIds, TABLE, storeOn } from './backends.js';

/** Compares every field, bytes exactly and instants to the millisecond. */
function expectSameCapsule(actual: StoredCapsule | undefined, expected: StoredCapsule): void {
  expect(actual, `capsule ${expected.transactionId}`).to.not.equal(undefined);
  const found = actual as StoredCapsule;
  expect(found.transactionId).to.equal(expected.transactionId);
  expect(found.capsuleType).to.equal(expected.capsuleType);
  expect(found.recipientId).to.be.instanceOf(Uint8Array);
  expect(Buffer.from(found.recipientId).equals(Buffer.from(expected.recipientId)), 'recipientId bytes').to.be.true;
  expect(found.ephemeralKeyMaterial).to.be.instanceOf(Uint8Array);
  expect(
    Buffer.from(found.ephemeralKeyMaterial).equals(Buffer.from(expected.ephemeralKeyMaterial)),
    'ephemeralKeyMaterial bytes',
  ).to.be.true;
  expect(found.expiryTime).to.be.instanceOf(Date);
  expect(found.expiryTime.getTime()).to.equal(expected.expiryTime.getTime());
  expect(found.expiryTimeAdjusted).to.equal(expected.expiryTimeAdjusted);
  expect(found.createdAt).to.be.instanceOf(Date);
  expect(found.createdAt.getTime()).to.equal(expected.createdAt.getTime());
}

const BEFORE_ALL_EXPIRIES = new Date('2030-01-01T00:00:00.000Z');

describe('Knex capsule store', () => {
  describeEachBackend((backend) => {
    const store = storeOn(backend, createKnexCapsuleStore, [TABLE]);

    describe('insert and findUnexpired', () => {
      for (const recipientLength of [65, 133, 2100]) {
        it(`returns a ${recipientLength}-byte recipient id byte for byte`, async () => {
          const capsule = makeCapsule({ recipientId: bytes(recipientLength) });
          await store.insert(capsule);
          expectSameCapsule(await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES), capsule);
        });
      }

      it('keeps leading and trailing zero bytes of both byte fields', async () => {
        const recipientId = new Uint8Array([0, 0, ...bytes(61), 0, 0]);
        const ephemeralKeyMaterial = new Uint8Array([0, ...bytes(95), 0, 0, 0]);
        const capsule = makeCapsule({ recipientId, ephemeralKeyMaterial });
        await store.insert(capsule);
        const found = await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES);
        expect(found?.recipientId.length).to.equal(65);
        expect(found?.ephemeralKeyMaterial.length).to.equal(99);
        expectSameCapsule(found, capsule);
      });

      it('returns an empty ephemeral key material as zero bytes', async () => {
        const capsule = makeCapsule({ capsuleType: 'rsa', recipientId: bytes(550), ephemeralKeyMaterial: bytes(0) });
        await store.insert(capsule);
        const found = await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES);
        expect(found?.ephemeralKeyMaterial.length).to.equal(0);
        expectSameCapsule(found, capsule);
      });

      it('returns a 2100-byte ephemeral key material byte for byte', async () => {
        const capsule = makeCapsule({ capsuleType: 'rsa', ephemeralKeyMaterial: bytes(2100) });
        await store.insert(capsule);
        expectSameCapsule(await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES), capsule);
      });

      for (const capsuleType of ['ecc_secp256r1', 'ecc_secp384r1', 'ecc_secp521r1', 'rsa'] as const) {
        it(`returns the capsule type ${capsuleType}`, async () => {
          const capsule = makeCapsule({ capsuleType });
          await store.insert(capsule);
          expect((await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES))?.capsuleType).to.equal(
            capsuleType,
          );
        });
      }

      for (const expiryTimeAdjusted of [true, false]) {
        it(`returns expiryTimeAdjusted ${expiryTimeAdjusted}`, async () => {
          const capsule = makeCapsule({ expiryTimeAdjusted });
          await store.insert(capsule);
          const found = await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES);
          expect(found?.expiryTimeAdjusted).to.equal(expiryTimeAdjusted);
          expectSameCapsule(found, capsule);
        });
      }

      it('returns the expiry and creation instants to the millisecond', async () => {
        const capsule = makeCapsule({
          expiryTime: new Date('2031-02-28T23:59:59.999Z'),
          createdAt: new Date('2030-12-31T23:59:59.001Z'),
        });
        await store.insert(capsule);
        const found = await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES);
        expect(found?.expiryTime.toISOString()).to.equal('2031-02-28T23:59:59.999Z');
        expect(found?.createdAt.toISOString()).to.equal('2030-12-31T23:59:59.001Z');
      });

      it('returns each of several capsules under its own id', async () => {
        const capsules = [65, 97, 133].map((length) => makeCapsule({ recipientId: bytes(length) }));
        for (const capsule of capsules) {
          await store.insert(capsule);
        }
        for (const capsule of capsules) {
          expectSameCapsule(await store.findUnexpired(capsule.transactionId, BEFORE_ALL_EXPIRIES), capsule);
        }
      });
    });

    describe('expiry on read', () => {
      const expiryTime = new Date('2030-06-01T12:00:00.500Z');

      it('returns the capsule 1 ms before its expiry', async () => {
        const capsule = makeCapsule({ expiryTime });
        await store.insert(capsule);
        const found = await store.findUnexpired(capsule.transactionId, new Date(expiryTime.getTime() - 1));
        expectSameCapsule(found, capsule);
      });

      it('does not return the capsule at exactly its expiry', async () => {
        const capsule = makeCapsule({ expiryTime });
        await store.insert(capsule);
        expect(await store.findUnexpired(capsule.transactionId, new Date(expiryTime.getTime()))).to.equal(undefined);
      });

      it('does not return the capsule after its expiry', async () => {
        const capsule = makeCapsule({ expiryTime });
        await store.insert(capsule);
        expect(await store.findUnexpired(capsule.transactionId, new Date(expiryTime.getTime() + 1))).to.equal(
          undefined,
        );
        expect(await store.findUnexpired(capsule.transactionId, new Date('2040-01-01T00:00:00Z'))).to.equal(undefined);
      });

      it('returns undefined for an unknown id', async () => {
        await store.insert(makeCapsule());
        expect(await store.findUnexpired(newId(), BEFORE_ALL_EXPIRIES)).to.equal(undefined);
      });

      it('does not treat the id as a LIKE pattern', async () => {
        const capsule = makeCapsule();
        await store.insert(capsule);
        const id = capsule.transactionId;
        expect(await store.findUnexpired(`${id.slice(0, 10)}%`, BEFORE_ALL_EXPIRIES)).to.equal(undefined);
        expect(await store.findUnexpired(`${id.slice(0, 33)}_`, BEFORE_ALL_EXPIRIES)).to.equal(undefined);
      });

      // MySQL's default collations ignore case and trailing spaces; the id column must not (see the migration).
      it('matches the id exactly: case and trailing spaces count', async () => {
        const capsule = makeCapsule();
        await store.insert(capsule);
        const id = capsule.transactionId;
        expect(await store.findUnexpired(id.toLowerCase(), BEFORE_ALL_EXPIRIES)).to.equal(undefined);
        expect(await store.findUnexpired(id.toUpperCase(), BEFORE_ALL_EXPIRIES)).to.equal(undefined);
        expect(await store.findUnexpired(`${id} `, BEFORE_ALL_EXPIRIES)).to.equal(undefined);
        expectSameCapsule(await store.findUnexpired(id, BEFORE_ALL_EXPIRIES), capsule);
      });
    });

    describe('id conflicts', () => {
      it('rejects a second capsule with the same id with IdConflictError and keeps the first', async () => {
        const first = makeCapsule({ expiryTimeAdjusted: false });
        const second = makeCapsule({
          transactionId: first.transactionId,
          capsuleType: 'rsa',
          recipientId: bytes(133),
          ephemeralKeyMaterial: bytes(300),
          expiryTime: new Date(first.expiryTime.getTime() + 86_400_000),
          expiryTimeAdjusted: true,
        });
        await store.insert(first);

        let caught: unknown;
        try {
          await store.insert(second);
        } catch (error) {
          caught = error;
        }

        expect(caught).to.be.instanceOf(IdConflictError);
        expectSameCapsule(await store.findUnexpired(first.transactionId, BEFORE_ALL_EXPIRIES), first);
        expect(await backend.db(TABLE).count<{ n: number }[]>({ n: '*' })).to.deep.equal([{ n: 1 }]);
      });
    });

    describe('deleteExpired', () => {
      // Ids in the reverse order of expiry, and inserted in neither order, so that "oldest first" cannot come from
      // the primary key or the insertion order by accident.
      const now = new Date('2030-06-01T12:00:00.000Z');
      const at = (offsetMs: number): Date => new Date(now.getTime() + offsetMs);
      const idWithLeadingDigit = (digit: number): string => `KC${digit}${'0'.repeat(31)}`;
      const rows = [
        { id: idWithLeadingDigit(9), expiryTime: at(-3000) },
        { id: idWithLeadingDigit(8), expiryTime: at(-2000) },
        { id: idWithLeadingDigit(7), expiryTime: at(-1) },
        { id: idWithLeadingDigit(6), expiryTime: at(0) },
        { id: idWithLeadingDigit(5), expiryTime: at(1) },
        { id: idWithLeadingDigit(4), expiryTime: at(3_600_000) },
      ];
      const insertionOrder = [3, 0, 5, 2, 4, 1];
      const expiredIds = rows.slice(0, 4).map((row) => row.id);
      const liveIds = rows.slice(4).map((row) => row.id);
      const sorted = (ids: readonly string[]): string[] => [...ids].sort();

      beforeEach(async () => {
        for (const index of insertionOrder) {
          const row = rows[index] as (typeof rows)[number];
          await store.insert(makeCapsule({ transactionId: row.id, expiryTime: row.expiryTime }));
        }
      });

      it('deletes at most the limit, oldest expiry first, and returns the count', async () => {
        expect(await store.deleteExpired(now, 2)).to.equal(2);
        expect(await remainingIds(backend.db)).to.deep.equal(sorted([...expiredIds.slice(2), ...liveIds]));

        expect(await store.deleteExpired(now, 1)).to.equal(1);
        expect(await remainingIds(backend.db)).to.deep.equal(sorted([...expiredIds.slice(3), ...liveIds]));
      });

      it('deletes the rows expiring exactly at now and before, and no unexpired row', async () => {
        expect(await store.deleteExpired(now, 100)).to.equal(4);
        expect(await remainingIds(backend.db)).to.deep.equal(sorted(liveIds));
        for (const id of liveIds) {
          expect(await store.findUnexpired(id, now), id).to.not.equal(undefined);
        }
      });

      it('returns 0 and deletes nothing when nothing has expired', async () => {
        expect(await store.deleteExpired(at(-3001), 100)).to.equal(0);
        expect(await remainingIds(backend.db)).to.have.length(rows.length);
      });

      it('returns 0 once the expired rows are gone', async () => {
        expect(await store.deleteExpired(now, 3)).to.equal(3);
        expect(await store.deleteExpired(now, 3)).to.equal(1);
        expect(await store.deleteExpired(now, 3)).to.equal(0);
        expect(await remainingIds(backend.db)).to.deep.equal(sorted(liveIds));
      });
    });
  });
});
