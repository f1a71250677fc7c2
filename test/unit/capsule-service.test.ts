import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Capsule, StoredCapsule } from '../../src/domain/capsules/capsule.js';
import {
  CAPSULE_NOT_FOUND,
  createCapsuleService,
  newTransactionId,
  type CapsuleService,
} from '../../src/domain/capsules/capsule-service.js';
import type { CapsuleStore } from '../../src/domain/capsules/capsule-store.js';
import type { ExpiryPolicy } from '../../src/domain/expiry-policy.js';
import type { RecipientKey } from '../../src/domain/capsules/recipient-key.js';
import { type DomainError, IdConflictError, unavailable } from '../../src/domain/errors.js';
import type { RandomSource } from '../../src/domain/random.js';
import { createTestClock, type TestClock } from '../support/test-clock.js';
import { pkcs1Der, randomEcPoint, randomModulus } from '../fixtures/keys.js';
import { countingRandom, type CountingRandom } from '../support/counting-random.js';
import { domainRejection, rejectionOf } from '../support/rejections.js';

const DAY = 86_400_000;
const START = new Date('2026-03-15T10:00:00.000Z');
const POLICY: ExpiryPolicy = { defaultMs: 1095 * DAY, maxMs: 1825 * DAY };
const TRANSACTION_ID = /^KC[0-9a-f]{32}$/;

/** The CapsuleStore port in memory, with the port's semantics: ids are unique, expired capsules are never found. */
class InMemoryCapsuleStore implements CapsuleStore {
  readonly capsules = new Map<string, StoredCapsule>();
  readonly insertedIds: string[] = [];
  readonly lookups: Array<{ transactionId: string; now: Date }> = [];
  /** Errors the next inserts throw, in order, before touching the map. */
  readonly failures: Error[] = [];

  insert(capsule: StoredCapsule): Promise<void> {
    this.insertedIds.push(capsule.transactionId);
    const failure = this.failures.shift();
    if (failure) {
      return Promise.reject(failure);
    }
    if (this.capsules.has(capsule.transactionId)) {
      return Promise.reject(new IdConflictError(`duplicate id ${capsule.transactionId}`));
    }
    this.capsules.set(capsule.transactionId, capsule);
    return Promise.resolve();
  }

  findUnexpired(transactionId: string, now: Date): Promise<StoredCapsule | undefined> {
    this.lookups.push({ transactionId, now });
    const capsule = this.capsules.get(transactionId);
    return Promise.resolve(capsule && capsule.expiryTime.getTime() > now.getTime() ? capsule : undefined);
  }

  deleteExpired(now: Date, limit: number): Promise<number> {
    let deleted = 0;
    for (const [id, capsule] of this.capsules) {
      if (deleted < limit && capsule.expiryTime.getTime() <= now.getTime()) {
        this.capsules.delete(id);
        deleted++;
      }
    }
    return Promise.resolve(deleted);
  }
}

interface Fixture {
  readonly store: InMemoryCapsuleStore;
  readonly clock: TestClock;
  readonly random: CountingRandom;
  readonly service: CapsuleService;
}

function fixture(): Fixture {
  const store = new InMemoryCapsuleStore();
  const clock = createTestClock(START);
  const random = countingRandom();
  return { store, clock, random, service: createCapsuleService({ store, clock, random, expiry: POLICY }) };
}

const ecCapsule = (): Capsule => ({
  capsuleType: 'ecc_secp256r1',
  recipientId: randomEcPoint('P-256').point,
  ephemeralKeyMaterial: randomEcPoint('P-256').point,
});

const rsaCapsule = (): Capsule => ({
  capsuleType: 'rsa',
  recipientId: pkcs1Der(randomModulus(2048)),
  ephemeralKeyMaterial: randomBytes(256),
});

const ecKey = (curve: 'P-256' | 'P-384', point: Uint8Array): RecipientKey => ({
  kind: 'ec',
  curve,
  point: Buffer.from(point),
});
const rsaKey = (pkcs1: Uint8Array): RecipientKey => ({ kind: 'rsa', pkcs1: Buffer.from(pkcs1) });

const ecKeyOf = (capsule: Capsule): RecipientKey => ({
  kind: 'ec',
  curve: 'P-256',
  point: Buffer.from(capsule.recipientId),
});

describe('newTransactionId', () => {
  it('is KC followed by the 16 random bytes in lower-case hex', () => {
    const random: RandomSource = { bytes: (length) => new Uint8Array(length).fill(0xab) };
    expect(newTransactionId(random)).to.equal(`KC${'ab'.repeat(16)}`);
  });

  it('asks the random source for exactly 16 bytes', () => {
    const lengths: number[] = [];
    newTransactionId({
      bytes: (length) => {
        lengths.push(length);
        return new Uint8Array(length);
      },
    });
    expect(lengths).to.deep.equal([16]);
  });
});

describe('CapsuleService', () => {
  describe('create', () => {
    it('returns a transaction id of the form KC + 32 lower-case hex characters', async () => {
      const { service } = fixture();
      const created = await service.create(ecCapsule());
      expect(created.transactionId).to.match(TRANSACTION_ID);
    });

    it('stores the capsule under that id with the clock’s now and the default expiry', async () => {
      const { service, store } = fixture();
      const capsule = ecCapsule();
      const created = await service.create(capsule);
      expect(created.expiryTime.getTime()).to.equal(START.getTime() + 1095 * DAY);
      expect(created.expiryTimeAdjusted).to.equal(false);
      expect(store.capsules.get(created.transactionId)).to.deep.equal({
        ...capsule,
        transactionId: created.transactionId,
        createdAt: START,
        expiryTime: created.expiryTime,
        expiryTimeAdjusted: false,
      });
    });

    it('clamps a requested expiry beyond the maximum and reports it as adjusted', async () => {
      const { service, store } = fixture();
      const created = await service.create(ecCapsule(), new Date(START.getTime() + 2000 * DAY));
      expect(created.expiryTime.getTime()).to.equal(START.getTime() + 1825 * DAY);
      expect(created.expiryTimeAdjusted).to.equal(true);
      expect(store.capsules.get(created.transactionId)?.expiryTimeAdjusted).to.equal(true);
    });

    it('gives the same capsule posted twice two different ids', async () => {
      const { service, store } = fixture();
      const capsule = ecCapsule();
      const first = await service.create(capsule);
      const second = await service.create(capsule);
      expect(first.transactionId).to.match(TRANSACTION_ID);
      expect(second.transactionId).to.match(TRANSACTION_ID);
      expect(first.transactionId).not.to.equal(second.transactionId);
      expect(store.capsules.size).to.equal(2);
    });

    it('retries with a new id when the store reports an id conflict once', async () => {
      const { service, store } = fixture();
      store.failures.push(new IdConflictError('taken'));
      const created = await service.create(ecCapsule());
      expect(store.insertedIds).to.have.length(2);
      const [conflicting, retried] = store.insertedIds;
      expect(conflicting).to.match(TRANSACTION_ID);
      expect(retried).not.to.equal(conflicting);
      expect(created.transactionId).to.equal(retried);
      expect([...store.capsules.keys()]).to.deep.equal([retried]);
    });

    it('retries when a real collision occurs (a random source that repeats itself once)', async () => {
      const { store, clock } = fixture();
      const sequence = [0x11, 0x11, 0x22];
      const random: RandomSource = { bytes: (length) => new Uint8Array(length).fill(sequence.shift() ?? 0xff) };
      const service = createCapsuleService({ store, clock, random, expiry: POLICY });
      const first = await service.create(ecCapsule());
      const second = await service.create(ecCapsule());
      expect(first.transactionId).to.equal(`KC${'11'.repeat(16)}`);
      expect(second.transactionId).to.equal(`KC${'22'.repeat(16)}`);
      expect(store.capsules.size).to.equal(2);
    });

    it('fails after three id conflicts in a row, storing nothing', async () => {
      const { service, store } = fixture();
      store.failures.push(new IdConflictError('taken'), new IdConflictError('taken'), new IdConflictError('taken'));
      const error = await rejectionOf(service.create(ecCapsule()));
      expect(error).to.be.instanceOf(IdConflictError);
      expect(new Set(store.insertedIds).size).to.equal(3);
      expect(store.capsules.size).to.equal(0);
    });

    it('succeeds on the third attempt after two conflicts', async () => {
      const { service, store } = fixture();
      store.failures.push(new IdConflictError('taken'), new IdConflictError('taken'));
      const created = await service.create(ecCapsule());
      expect(store.insertedIds).to.have.length(3);
      expect(created.transactionId).to.equal(store.insertedIds[2]);
    });

    it('does not retry other store errors', async () => {
      const { service, store } = fixture();
      store.failures.push(unavailable('database unavailable'));
      const error = await domainRejection(service.create(ecCapsule()));
      expect(error.code).to.equal('unavailable');
      expect(store.insertedIds).to.have.length(1);
    });

    it('refuses an invalid capsule without touching the store or drawing an id', async () => {
      const { service, store, random } = fixture();
      const capsule = { ...ecCapsule(), ephemeralKeyMaterial: new Uint8Array(10) };
      const error = await domainRejection(service.create(capsule));
      expect(error.code).to.equal('invalid_argument');
      expect(error.message).to.match(/^ephemeral_key_material /);
      expect(store.insertedIds).to.deep.equal([]);
      expect(random.calls).to.equal(0);
    });

    it('refuses a requested expiry that is not in the future without touching the store', async () => {
      const { service, store } = fixture();
      const error = await domainRejection(service.create(ecCapsule(), START));
      expect(error.code).to.equal('invalid_argument');
      expect(store.insertedIds).to.deep.equal([]);
    });
  });

  describe('get', () => {
    for (const length of [17, 35]) {
      it(`refuses an id of ${length} characters as invalid_argument, without asking the store`, async () => {
        const { service, store } = fixture();
        const error = await domainRejection(service.get('K'.repeat(length), { kind: 'unsupported' }));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.include(String(length));
        expect(store.lookups).to.deep.equal([]);
      });
    }

    for (const length of [18, 34]) {
      it(`looks up an unknown id of ${length} characters and answers not_found`, async () => {
        const { service, store } = fixture();
        const error = await domainRejection(service.get('K'.repeat(length), { kind: 'unsupported' }));
        expect(error.code).to.equal('not_found');
        expect(store.lookups).to.have.length(1);
      });
    }

    it('returns an EC capsule to the holder of its recipient key', async () => {
      const { service } = fixture();
      const capsule = ecCapsule();
      const created = await service.create(capsule);
      const stored = await service.get(created.transactionId, ecKeyOf(capsule));
      expect(stored.transactionId).to.equal(created.transactionId);
      expect(Buffer.from(stored.recipientId).equals(Buffer.from(capsule.recipientId))).to.equal(true);
      expect(Buffer.from(stored.ephemeralKeyMaterial).equals(Buffer.from(capsule.ephemeralKeyMaterial))).to.equal(true);
      expect(stored.expiryTime.getTime()).to.equal(created.expiryTime.getTime());
    });

    it('returns an rsa capsule to the holder of its recipient key', async () => {
      const { service } = fixture();
      const capsule = rsaCapsule();
      const created = await service.create(capsule);
      const stored = await service.get(created.transactionId, { kind: 'rsa', pkcs1: Buffer.from(capsule.recipientId) });
      expect(stored.capsuleType).to.equal('rsa');
      expect(stored.transactionId).to.equal(created.transactionId);
    });

    it('asks the store with the clock’s current time', async () => {
      const { service, store, clock } = fixture();
      const capsule = ecCapsule();
      const created = await service.create(capsule);
      clock.advance(DAY);
      await service.get(created.transactionId, ecKeyOf(capsule));
      expect(store.lookups.map((lookup) => lookup.now.getTime())).to.deep.equal([START.getTime() + DAY]);
    });

    describe('answers every failure with the same not_found', () => {
      const cases: ReadonlyArray<{
        readonly what: string;
        readonly capsule: () => Capsule;
        readonly act: (fixture: Fixture, capsule: Capsule, transactionId: string) => Promise<unknown>;
      }> = [
        {
          what: 'an unknown id',
          capsule: ecCapsule,
          act: ({ service }, capsule) => service.get(`KC${'0'.repeat(32)}`, ecKeyOf(capsule)),
        },
        {
          what: 'an expired capsule',
          capsule: ecCapsule,
          act: ({ service, clock }, capsule, id) => {
            clock.advance(1095 * DAY);
            return service.get(id, ecKeyOf(capsule));
          },
        },
        // A key the capsule is not addressed to: of another curve, of the other kind, or unsupported.
        ...(
          [
            ['another EC key on the same curve', ecCapsule, () => ecKey('P-256', randomEcPoint('P-256').point)],
            [
              'the right point bytes under another curve label',
              ecCapsule,
              (capsule) => ecKey('P-384', capsule.recipientId),
            ],
            [
              'an RSA key (even with the point’s bytes) for an EC capsule',
              ecCapsule,
              (capsule) => rsaKey(capsule.recipientId),
            ],
            ['an unsupported key for an EC capsule', ecCapsule, () => ({ kind: 'unsupported' })],
            [
              'an EC key (even with the PKCS#1 bytes) for an rsa capsule',
              rsaCapsule,
              (capsule) => ecKey('P-256', capsule.recipientId),
            ],
            ['another RSA key for an rsa capsule', rsaCapsule, () => rsaKey(pkcs1Der(randomModulus(2048)))],
            ['an unsupported key for an rsa capsule', rsaCapsule, () => ({ kind: 'unsupported' })],
          ] as const satisfies ReadonlyArray<readonly [string, () => Capsule, (capsule: Capsule) => RecipientKey]>
        ).map(([what, capsule, key]) => ({
          what,
          capsule,
          act: ({ service }: Fixture, made: Capsule, id: string) => service.get(id, key(made)),
        })),
      ];

      const failure = async ({ capsule: makeCapsule, act }: (typeof cases)[number]): Promise<DomainError> => {
        const context = fixture();
        const capsule = makeCapsule();
        const { transactionId } = await context.service.create(capsule);
        return domainRejection(act(context, capsule, transactionId));
      };

      for (const testCase of cases) {
        it(`for ${testCase.what}`, async () => {
          const error = await failure(testCase);
          expect(error.code).to.equal('not_found');
          expect(error.message).to.equal(CAPSULE_NOT_FOUND);
        });
      }

      it('indistinguishable from one another (name, code, message, no cause)', async () => {
        const shapes = new Set<string>();
        for (const testCase of cases) {
          const error = await failure(testCase);
          shapes.add(
            JSON.stringify({ name: error.name, code: error.code, message: error.message, cause: error.cause }),
          );
        }
        expect([...shapes]).to.deep.equal([
          JSON.stringify({ name: 'DomainError', code: 'not_found', message: CAPSULE_NOT_FOUND }),
        ]);
      });
    });
  });
});
