import { expect } from 'chai';
import { DomainError, IdConflictError, unauthenticated } from '../../src/domain/errors.js';
import type { ExpiryPolicy } from '../../src/domain/expiry-policy.js';
import type { KeyShare, ShareNonce, StoredShare } from '../../src/domain/shares/key-share.js';
import {
  createShareService,
  newNonce,
  newShareId,
  SHARE_NOT_FOUND,
  type NoncePolicy,
  type ShareService,
} from '../../src/domain/shares/share-service.js';
import type { AddNonceResult, ShareStore } from '../../src/domain/shares/share-store.js';
import type { TicketPresentation, TicketVerifier, VerifiedTicket } from '../../src/domain/shares/ticket-verifier.js';
import { createTestClock, type TestClock } from '../support/test-clock.js';
import { countingRandom, type CountingRandom } from '../support/counting-random.js';
import { domainRejection } from '../support/rejections.js';

const DAY = 86_400_000;
const START = new Date('2026-03-15T10:00:00.000Z');
const EXPIRY: ExpiryPolicy = { defaultMs: 30 * DAY, maxMs: 365 * DAY };
const NONCES: NoncePolicy = { ttlMs: 300_000, maxLivePerShare: 3 };
const SHARE_ID = /^[0-9a-f]{32}$/;
const NONCE = /^[A-Za-z0-9_-]{16}$/;
const RECIPIENT = 'etsi/PNOEE-30303039914';

/** The ShareStore port in memory, with the port's semantics (unique ids, live-nonce bound, single-use nonces). */
class InMemoryShareStore implements ShareStore {
  readonly shares = new Map<string, StoredShare>();
  nonces: ShareNonce[] = [];
  readonly insertedIds: string[] = [];
  readonly addNonceCalls: Array<{ nonce: ShareNonce; maxLive: number; now: Date }> = [];
  /** Errors the next inserts throw, in order. */
  readonly insertFailures: Error[] = [];

  insert(share: StoredShare): Promise<void> {
    this.insertedIds.push(share.shareId);
    const failure = this.insertFailures.shift();
    if (failure) {
      return Promise.reject(failure);
    }
    if (this.shares.has(share.shareId)) {
      return Promise.reject(new IdConflictError(`duplicate id ${share.shareId}`));
    }
    this.shares.set(share.shareId, share);
    return Promise.resolve();
  }

  findUnexpired(shareId: string, now: Date): Promise<StoredShare | undefined> {
    const share = this.shares.get(shareId);
    return Promise.resolve(share && share.expiryTime.getTime() > now.getTime() ? share : undefined);
  }

  async addNonce(nonce: ShareNonce, maxLive: number, now: Date): Promise<AddNonceResult> {
    this.addNonceCalls.push({ nonce, maxLive, now });
    if (!(await this.findUnexpired(nonce.shareId, now))) {
      return 'no-share';
    }
    const live = this.nonces.filter(
      (existing) => existing.shareId === nonce.shareId && existing.expiresAt.getTime() > now.getTime(),
    );
    if (live.length >= maxLive) {
      return 'too-many';
    }
    this.nonces.push(nonce);
    return 'added';
  }

  consumeNonce(shareId: string, nonce: string, now: Date): Promise<boolean> {
    const index = this.nonces.findIndex(
      (existing) =>
        existing.shareId === shareId && existing.nonce === nonce && existing.expiresAt.getTime() > now.getTime(),
    );
    if (index < 0) {
      return Promise.resolve(false);
    }
    this.nonces.splice(index, 1);
    return Promise.resolve(true);
  }

  deleteExpired(now: Date, limit: number): Promise<number> {
    let deleted = 0;
    for (const [id, share] of this.shares) {
      if (deleted < limit && share.expiryTime.getTime() <= now.getTime()) {
        this.shares.delete(id);
        this.nonces = this.nonces.filter((nonce) => nonce.shareId !== id);
        deleted++;
      }
    }
    return Promise.resolve(deleted);
  }

  deleteStaleNonces(now: Date, limit: number): Promise<number> {
    const stale = this.nonces.filter((nonce) => nonce.expiresAt.getTime() <= now.getTime()).slice(0, limit);
    this.nonces = this.nonces.filter((nonce) => !stale.includes(nonce));
    return Promise.resolve(stale.length);
  }
}

/** A TicketVerifier that records what it is asked and answers with the configured result or error. */
class StubVerifier implements TicketVerifier {
  readonly calls: TicketPresentation[] = [];
  result: VerifiedTicket | Error = new Error('stub verifier: no result configured');

  verify(presentation: TicketPresentation): Promise<VerifiedTicket> {
    this.calls.push(presentation);
    return this.result instanceof Error ? Promise.reject(this.result) : Promise.resolve(this.result);
  }
}

interface Fixture {
  readonly store: InMemoryShareStore;
  readonly verifier: StubVerifier;
  readonly clock: TestClock;
  readonly random: CountingRandom;
  readonly service: ShareService;
}

function fixture(): Fixture {
  const store = new InMemoryShareStore();
  const verifier = new StubVerifier();
  const clock = createTestClock(START);
  const random = countingRandom();
  const service = createShareService({ store, verifier, clock, random, expiry: EXPIRY, nonces: NONCES });
  return { store, verifier, clock, random, service };
}

const keyShare = (bytes = 32, recipient = RECIPIENT): KeyShare => ({
  share: Uint8Array.from({ length: bytes }, (_, i) => i),
  recipient,
});

/** A stored share with one live nonce, and the verifier answering for it as `recipient`. */
async function readyToGet(recipient = RECIPIENT): Promise<Fixture & { shareId: string; nonce: string }> {
  const f = fixture();
  const { shareId } = await f.service.create(keyShare());
  const nonce = await f.service.createNonce(shareId);
  f.verifier.result = { recipient, shareId, nonce };
  return { ...f, shareId, nonce };
}

const TICKET = 'header.payload.signature~disclosure~';
const X5C = '-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----';

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  const error = await domainRejection(promise);
  expect(error.code).to.equal('not_found');
  expect(error.message).to.equal(SHARE_NOT_FOUND);
}

describe('ShareService', () => {
  describe('newShareId and newNonce', () => {
    it('makes a share id of 16 random bytes in lower-case hex', () => {
      const random = countingRandom();
      expect(newShareId({ bytes: (length) => new Uint8Array(length).fill(0xab) })).to.equal('ab'.repeat(16));
      expect(newShareId(random)).to.match(SHARE_ID);
      expect(random.lengths).to.deep.equal([16]);
    });

    it('makes a nonce of 12 random bytes in base64url (16 characters)', () => {
      const random = countingRandom();
      expect(newNonce({ bytes: (length) => new Uint8Array(length).fill(0xff) })).to.equal('_'.repeat(16));
      expect(newNonce(random)).to.match(NONCE);
      expect(random.lengths).to.deep.equal([12]);
    });
  });

  describe('create', () => {
    it('returns a share id of 32 lower-case hex characters and stores the share under it', async () => {
      const { service, store } = fixture();
      const share = keyShare();
      const created = await service.create(share);
      expect(created.shareId).to.match(SHARE_ID);
      expect(store.shares.get(created.shareId)).to.deep.equal({
        ...share,
        shareId: created.shareId,
        createdAt: START,
        expiryTime: new Date(START.getTime() + 30 * DAY),
        expiryTimeAdjusted: false,
      });
    });

    it('gives the same share posted twice two different ids', async () => {
      const { service, store } = fixture();
      const first = await service.create(keyShare());
      const second = await service.create(keyShare());
      expect(first.shareId).not.to.equal(second.shareId);
      expect(store.shares.size).to.equal(2);
    });

    for (const bytes of [32, 64, 128]) {
      it(`accepts a share of ${bytes} bytes`, async () => {
        const { service, store } = fixture();
        const created = await service.create(keyShare(bytes));
        expect(store.shares.get(created.shareId)?.share).to.have.length(bytes);
      });
    }

    for (const bytes of [0, 31, 129]) {
      it(`refuses a share of ${bytes} bytes as invalid_argument naming the share, storing nothing`, async () => {
        const { service, store } = fixture();
        const error = await domainRejection(service.create(keyShare(bytes)));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.equal(`share must be 32 to 128 bytes, got ${bytes}`);
        expect(store.insertedIds).to.deep.equal([]);
      });
    }

    for (const recipient of ['', 'etsi/XYZEE-48010010101', 'PNOEE-48010010101', 'private//70000349']) {
      it(`refuses the recipient ${JSON.stringify(recipient)} as invalid_argument naming the recipient`, async () => {
        const { service, store } = fixture();
        const error = await domainRejection(service.create(keyShare(32, recipient)));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.match(/^recipient must be /);
        expect(store.insertedIds).to.deep.equal([]);
      });
    }

    it('applies the default expiry when none is requested', async () => {
      const { service } = fixture();
      const created = await service.create(keyShare());
      expect(created.expiryTime).to.deep.equal(new Date(START.getTime() + 30 * DAY));
      expect(created.expiryTimeAdjusted).to.equal(false);
    });

    it('keeps a requested expiry within the maximum', async () => {
      const { service } = fixture();
      const requested = new Date(START.getTime() + 100 * DAY);
      const created = await service.create(keyShare(), requested);
      expect(created.expiryTime).to.deep.equal(requested);
      expect(created.expiryTimeAdjusted).to.equal(false);
    });

    it('clamps a requested expiry beyond the maximum and reports it as adjusted', async () => {
      const { service, store } = fixture();
      const created = await service.create(keyShare(), new Date(START.getTime() + 1000 * DAY));
      expect(created.expiryTime).to.deep.equal(new Date(START.getTime() + 365 * DAY));
      expect(created.expiryTimeAdjusted).to.equal(true);
      expect(store.shares.get(created.shareId)?.expiryTimeAdjusted).to.equal(true);
    });

    it('refuses a requested expiry that is not in the future', async () => {
      const { service, store } = fixture();
      const error = await domainRejection(service.create(keyShare(), START));
      expect(error.code).to.equal('invalid_argument');
      expect(store.insertedIds).to.deep.equal([]);
    });

    it('retries with a new id when the store reports an id conflict', async () => {
      const { service, store } = fixture();
      store.insertFailures.push(new IdConflictError('taken'));
      const created = await service.create(keyShare());
      expect(store.insertedIds).to.have.length(2);
      expect(store.insertedIds[0]).not.to.equal(store.insertedIds[1]);
      expect(created.shareId).to.equal(store.insertedIds[1]);
    });

    it('gives up after three id conflicts', async () => {
      const { service, store } = fixture();
      store.insertFailures.push(new IdConflictError('1'), new IdConflictError('2'), new IdConflictError('3'));
      let caught: unknown;
      try {
        await service.create(keyShare());
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(IdConflictError);
      expect(store.insertedIds).to.have.length(3);
      expect(store.shares.size).to.equal(0);
    });

    it('does not retry other store errors', async () => {
      const { service, store } = fixture();
      const failure = new Error('database down');
      store.insertFailures.push(failure);
      let caught: unknown;
      try {
        await service.create(keyShare());
      } catch (error) {
        caught = error;
      }
      expect(caught).to.equal(failure);
      expect(store.insertedIds).to.have.length(1);
    });
  });

  describe('createNonce', () => {
    it('returns a 16-character base64url nonce and stores it for the share with the nonce lifetime', async () => {
      const { service, store } = fixture();
      const { shareId } = await service.create(keyShare());
      const nonce = await service.createNonce(shareId);
      expect(nonce).to.match(NONCE);
      expect(store.nonces).to.deep.equal([
        { shareId, nonce, createdAt: START, expiresAt: new Date(START.getTime() + 300_000) },
      ]);
      expect(store.addNonceCalls[0]?.maxLive).to.equal(3);
      expect(store.addNonceCalls[0]?.now).to.deep.equal(START);
    });

    it('issues several live nonces for one share, each different', async () => {
      const { service, store } = fixture();
      const { shareId } = await service.create(keyShare());
      const nonces = [await service.createNonce(shareId), await service.createNonce(shareId)];
      expect(new Set(nonces).size).to.equal(2);
      expect(store.nonces).to.have.length(2);
    });

    it('answers an unknown share with not_found "key share not found"', async () => {
      const { service } = fixture();
      const error = await domainRejection(service.createNonce('0123456789abcdef0123456789abcdef'));
      expect(error.code).to.equal('not_found');
      expect(error.message).to.equal('key share not found');
    });

    it('answers an expired share with not_found', async () => {
      const { service, clock } = fixture();
      const { shareId } = await service.create(keyShare());
      clock.advance(31 * DAY);
      await expectNotFound(service.createNonce(shareId));
    });

    it('answers a full set of live nonces with resource_exhausted, and issues again once they expire', async () => {
      const { service, clock } = fixture();
      const { shareId } = await service.create(keyShare());
      for (let i = 0; i < NONCES.maxLivePerShare; i++) {
        await service.createNonce(shareId);
      }
      const error = await domainRejection(service.createNonce(shareId));
      expect(error.code).to.equal('resource_exhausted');
      expect(error.message).to.match(/3 unused nonces/);
      clock.advance(NONCES.ttlMs);
      expect(await service.createNonce(shareId)).to.match(NONCE);
    });

    for (const length of [17, 35, 0]) {
      it(`refuses a share id of ${length} characters as invalid_argument`, async () => {
        const { service, store } = fixture();
        const error = await domainRejection(service.createNonce('a'.repeat(length)));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.match(new RegExp(`got ${length}$`));
        expect(store.addNonceCalls).to.deep.equal([]);
      });
    }
  });

  describe('get', () => {
    it('returns the share and its recipient when the ticket names the stored recipient', async () => {
      const { service, shareId } = await readyToGet();
      expect(await service.get(shareId, TICKET, X5C)).to.deep.equal({
        share: keyShare().share,
        recipient: RECIPIENT,
      });
    });

    it('passes the ticket, the certificate, the share id and the clock’s now to the verifier', async () => {
      const { service, verifier, shareId, clock } = await readyToGet();
      clock.advance(1000);
      await service.get(shareId, TICKET, X5C);
      expect(verifier.calls).to.deep.equal([
        { ticket: TICKET, x5c: X5C, shareId, now: new Date(START.getTime() + 1000) },
      ]);
    });

    it('consumes the nonce: the same ticket a second time is not found', async () => {
      const { service, store, shareId } = await readyToGet();
      await service.get(shareId, TICKET, X5C);
      expect(store.nonces).to.deep.equal([]);
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('consumes only the nonce of the ticket', async () => {
      const { service, store, shareId, nonce } = await readyToGet();
      const other = await service.createNonce(shareId);
      await service.get(shareId, TICKET, X5C);
      expect(store.nonces.map((entry) => entry.nonce)).to.deep.equal([other]);
      expect(other).not.to.equal(nonce);
    });

    for (const length of [17, 35]) {
      it(`refuses a share id of ${length} characters as invalid_argument, before verifying`, async () => {
        const { service, verifier } = await readyToGet();
        const error = await domainRejection(service.get('a'.repeat(length), TICKET, X5C));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.match(/share id/);
        expect(verifier.calls).to.deep.equal([]);
      });
    }

    for (const length of [18, 34]) {
      it(`takes a share id of ${length} characters to the verifier`, async () => {
        const { service, verifier } = await readyToGet();
        await expectNotFound(service.get('a'.repeat(length), TICKET, X5C));
        expect(verifier.calls).to.have.length(1);
      });
    }

    for (const ticket of ['', '   ']) {
      it(`refuses the ticket ${JSON.stringify(ticket)} as invalid_argument, before verifying`, async () => {
        const { service, verifier, shareId } = await readyToGet();
        const error = await domainRejection(service.get(shareId, ticket, X5C));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.match(/ticket/);
        expect(verifier.calls).to.deep.equal([]);
      });
    }

    for (const x5c of ['', '\n']) {
      it(`refuses the certificate ${JSON.stringify(x5c)} as invalid_argument, before verifying`, async () => {
        const { service, verifier, shareId } = await readyToGet();
        const error = await domainRejection(service.get(shareId, TICKET, x5c));
        expect(error.code).to.equal('invalid_argument');
        expect(error.message).to.match(/x5c/);
        expect(verifier.calls).to.deep.equal([]);
      });
    }

    it('passes a verifier failure through unchanged and leaves the nonce usable', async () => {
      const { service, verifier, store, shareId, nonce } = await readyToGet();
      const failure = unauthenticated('the ticket signature does not verify with the auth certificate');
      verifier.result = failure;
      const error = await domainRejection(service.get(shareId, TICKET, X5C));
      expect(error).to.equal(failure);
      expect(store.nonces.map((entry) => entry.nonce)).to.deep.equal([nonce]);
      verifier.result = { recipient: RECIPIENT, shareId, nonce };
      expect((await service.get(shareId, TICKET, X5C)).recipient).to.equal(RECIPIENT);
    });

    it('answers an unknown share with the one not-found message', async () => {
      const { service, verifier, nonce } = await readyToGet();
      const unknown = 'ffffffffffffffffffffffffffffffff';
      verifier.result = { recipient: RECIPIENT, shareId: unknown, nonce };
      await expectNotFound(service.get(unknown, TICKET, X5C));
    });

    it('answers an expired share with the one not-found message', async () => {
      const { service, clock, shareId } = await readyToGet();
      clock.advance(31 * DAY);
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('answers a nonce that was never issued with the one not-found message', async () => {
      const { service, verifier, shareId } = await readyToGet();
      verifier.result = { recipient: RECIPIENT, shareId, nonce: 'bm90aXNzdWVkbm9u' };
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('answers a nonce issued for another share with the one not-found message', async () => {
      const { service, verifier, shareId } = await readyToGet();
      const other = await service.create(keyShare());
      const otherNonce = await service.createNonce(other.shareId);
      verifier.result = { recipient: RECIPIENT, shareId, nonce: otherNonce };
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('answers a stale nonce with the one not-found message', async () => {
      const { service, clock, shareId } = await readyToGet();
      clock.advance(NONCES.ttlMs);
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('accepts a nonce just before the end of its lifetime', async () => {
      const { service, clock, shareId } = await readyToGet();
      clock.advance(NONCES.ttlMs - 1);
      expect((await service.get(shareId, TICKET, X5C)).recipient).to.equal(RECIPIENT);
    });

    it('answers a ticket of another person with the one not-found message', async () => {
      const { service, shareId } = await readyToGet('etsi/PNOEE-48010010101');
      await expectNotFound(service.get(shareId, TICKET, X5C));
    });

    it('gives every not-found case the identical code and message', async () => {
      const messages = new Set<string>();
      const collect = async (promise: Promise<unknown>): Promise<void> => {
        const error = await domainRejection(promise);
        expect(error).to.be.instanceOf(DomainError);
        messages.add(`${error.code}: ${error.message}`);
      };
      {
        const { service, verifier, nonce } = await readyToGet();
        verifier.result = { recipient: RECIPIENT, shareId: 'ffffffffffffffffffffffffffffffff', nonce };
        await collect(service.get('ffffffffffffffffffffffffffffffff', TICKET, X5C));
      }
      {
        const { service, verifier, shareId } = await readyToGet();
        verifier.result = { recipient: RECIPIENT, shareId, nonce: 'bm90aXNzdWVkbm9u' };
        await collect(service.get(shareId, TICKET, X5C));
      }
      {
        const { service, shareId } = await readyToGet('etsi/PNOEE-48010010101');
        await collect(service.get(shareId, TICKET, X5C));
      }
      {
        const { service, clock, shareId } = await readyToGet();
        clock.advance(NONCES.ttlMs);
        await collect(service.get(shareId, TICKET, X5C));
      }
      expect([...messages]).to.deep.equal(['not_found: key share not found']);
    });
  });
});
