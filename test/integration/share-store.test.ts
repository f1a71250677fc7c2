import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { runExpiryCleanup } from '../../src/domain/capsules/expiry-cleanup.js';
import { IdConflictError } from '../../src/domain/errors.js';
import { type ShareNonce, type StoredShare } from '../../src/domain/shares/key-share.js';
import { type Database } from '../../src/storage/database.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { createTestClock } from '../support/test-clock.js';
import { describeEachBackend, storeOn } from './backends.js';
import { rejectionOf } from '../support/rejections.js';

const SHARES = 'key_shares';
const NONCES = 'key_share_nonces';

const NOW = new Date('2030-06-01T12:00:00.000Z');
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const DAY = 86_400_000;
const NONCE_TTL = 300_000;

/** 32 lowercase hex characters, like the service's own ids; starts with letters so that case variants differ. */
const newShareId = (): string => `ab${randomBytes(15).toString('hex')}`;
/** 12 random bytes in base64url (16 characters), like the service's own nonces. */
const newNonce = (): string => randomBytes(12).toString('base64url');

interface ShareFields {
  readonly shareId?: string;
  readonly share?: Uint8Array;
  readonly recipient?: string;
  readonly expiryTime?: Date;
  readonly expiryTimeAdjusted?: boolean;
  readonly createdAt?: Date;
}

function makeShare(fields: ShareFields = {}): StoredShare {
  return {
    shareId: fields.shareId ?? newShareId(),
    share: fields.share ?? new Uint8Array(randomBytes(32)),
    recipient: fields.recipient ?? 'etsi/PNOEE-48010010101',
    expiryTime: fields.expiryTime ?? at(DAY),
    expiryTimeAdjusted: fields.expiryTimeAdjusted ?? false,
    createdAt: fields.createdAt ?? at(-DAY),
  };
}

/** A nonce for `shareId` issued at `issuedAt` (default NOW) that lives until `expiresAt` (default issuedAt + 300 s). */
function makeNonce(shareId: string, expiresAt?: Date, issuedAt: Date = NOW): ShareNonce {
  return {
    shareId,
    nonce: newNonce(),
    createdAt: issuedAt,
    expiresAt: expiresAt ?? new Date(issuedAt.getTime() + NONCE_TTL),
  };
}

/** Binary columns read back as Buffers on MariaDB, strings on SQLite. */
const asText = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

/** The share ids left in key_shares, sorted. */
async function shareIds(db: Database): Promise<string[]> {
  const ids = await db(SHARES).pluck<unknown[]>('share_id');
  return ids.map(asText).sort();
}

/** The nonce rows left, as `shareId/nonce`, sorted; only those of `shareId` when given. */
async function nonceKeys(db: Database, shareId?: string): Promise<string[]> {
  const query = db(NONCES).select('share_id', 'nonce');
  const rows = (await (shareId === undefined ? query : query.where('share_id', shareId))) as {
    share_id: unknown;
    nonce: unknown;
  }[];
  return rows.map((row) => `${asText(row.share_id)}/${asText(row.nonce)}`).sort();
}

const key = (nonce: ShareNonce): string => `${nonce.shareId}/${nonce.nonce}`;

/** Compares every field: bytes exactly, instants to the millisecond. */
function expectSameShare(actual: StoredShare | undefined, expected: StoredShare): void {
  expect(actual, `share ${expected.shareId}`).to.not.equal(undefined);
  const found = actual as StoredShare;
  expect(found.shareId).to.equal(expected.shareId);
  expect(found.share).to.be.instanceOf(Uint8Array);
  expect(found.share.length).to.equal(expected.share.length);
  expect(Buffer.from(found.share).equals(Buffer.from(expected.share)), 'share bytes').to.be.true;
  expect(found.recipient).to.equal(expected.recipient);
  expect(found.expiryTime).to.be.instanceOf(Date);
  expect(found.expiryTime.getTime()).to.equal(expected.expiryTime.getTime());
  expect(found.expiryTimeAdjusted).to.equal(expected.expiryTimeAdjusted);
  expect(found.createdAt.getTime()).to.equal(expected.createdAt.getTime());
}

describe('Knex share store', () => {
  describeEachBackend((backend) => {
    const store = storeOn(backend, createKnexShareStore, [NONCES, SHARES]);

    /** Inserts a share and returns it. */
    const stored = async (fields: ShareFields = {}): Promise<StoredShare> => {
      const share = makeShare(fields);
      await store.insert(share);
      return share;
    };

    /** Adds a nonce through the store (checked to be 'added') and returns it. */
    const issued = async (shareId: string, expiresAt?: Date, issuedAt: Date = NOW): Promise<ShareNonce> => {
      const nonce = makeNonce(shareId, expiresAt, issuedAt);
      expect(await store.addNonce(nonce, 1000, issuedAt), `addNonce for ${shareId}`).to.equal('added');
      return nonce;
    };

    describe('insert and findUnexpired', () => {
      for (const length of [32, 64, 128]) {
        it(`returns a ${length}-byte share byte for byte with its recipient, expiry and flags`, async () => {
          const share = await stored({
            share: new Uint8Array(randomBytes(length)),
            recipient: 'private/JIO/70000349',
            expiryTime: new Date('2030-06-02T03:04:05.678Z'),
            expiryTimeAdjusted: length === 64,
            createdAt: new Date('2030-05-31T23:59:59.999Z'),
          });
          expectSameShare(await store.findUnexpired(share.shareId, NOW), share);
        });
      }

      it('keeps leading and trailing zero and space bytes of the share', async () => {
        const bytes = new Uint8Array([0, 0, 0x20, ...randomBytes(26), 0x20, 0, 0]);
        const share = await stored({ share: bytes });
        const found = await store.findUnexpired(share.shareId, NOW);
        expect(found?.share.length).to.equal(32);
        expectSameShare(found, share);
      });

      it('returns a 32-character recipient and the adjusted flag in both states', async () => {
        const recipient = 'private/VENDOR1234/7000034912345';
        expect(recipient).to.have.length(32);
        const adjusted = await stored({ recipient, expiryTimeAdjusted: true });
        const notAdjusted = await stored({ recipient, expiryTimeAdjusted: false });
        expect((await store.findUnexpired(adjusted.shareId, NOW))?.expiryTimeAdjusted).to.equal(true);
        expect((await store.findUnexpired(notAdjusted.shareId, NOW))?.expiryTimeAdjusted).to.equal(false);
        expect((await store.findUnexpired(adjusted.shareId, NOW))?.recipient).to.equal(recipient);
      });

      it('finds a share 1 ms before its expiry and not at or after it', async () => {
        const share = await stored({ expiryTime: new Date('2030-06-01T12:00:00.123Z') });
        const expiry = share.expiryTime.getTime();
        expectSameShare(await store.findUnexpired(share.shareId, new Date(expiry - 1)), share);
        expect(await store.findUnexpired(share.shareId, new Date(expiry))).to.equal(undefined);
        expect(await store.findUnexpired(share.shareId, new Date(expiry + 1))).to.equal(undefined);
      });

      it('returns undefined for an id that was never stored', async () => {
        await stored();
        expect(await store.findUnexpired(newShareId(), NOW)).to.equal(undefined);
      });

      it('refuses a second share with the same id with IdConflictError and keeps the first', async () => {
        const first = await stored();
        const second = makeShare({ shareId: first.shareId, share: new Uint8Array(randomBytes(64)) });
        const error = await rejectionOf(store.insert(second));
        expect(error).to.be.instanceOf(IdConflictError);
        expectSameShare(await store.findUnexpired(first.shareId, NOW), first);
        expect(await shareIds(backend.db)).to.deep.equal([first.shareId]);
      });

      it('compares ids exactly: case variants and a trailing space find nothing', async () => {
        const lower = await stored();
        const mixed = await stored({ shareId: `AbCdEf${randomBytes(13).toString('hex')}` });
        for (const variant of [
          lower.shareId.toUpperCase(),
          `A${lower.shareId.slice(1)}`,
          `${lower.shareId} `,
          ` ${lower.shareId}`,
          mixed.shareId.toLowerCase(),
          mixed.shareId.toUpperCase(),
          `${mixed.shareId} `,
        ]) {
          expect(await store.findUnexpired(variant, NOW), JSON.stringify(variant)).to.equal(undefined);
        }
        expectSameShare(await store.findUnexpired(lower.shareId, NOW), lower);
        expectSameShare(await store.findUnexpired(mixed.shareId, NOW), mixed);
      });

      it('stores a case variant of an existing id as a different share', async () => {
        const lower = await stored();
        const upper = await stored({ shareId: lower.shareId.toUpperCase(), share: new Uint8Array(randomBytes(48)) });
        expectSameShare(await store.findUnexpired(lower.shareId, NOW), lower);
        expectSameShare(await store.findUnexpired(upper.shareId, NOW), upper);
      });
    });

    describe('addNonce', () => {
      it("answers 'no-share' for an unknown share and stores nothing", async () => {
        await stored();
        expect(await store.addNonce(makeNonce(newShareId()), 16, NOW)).to.equal('no-share');
        expect(await nonceKeys(backend.db)).to.deep.equal([]);
      });

      it("answers 'no-share' for a share that expired at or before now, 'added' 1 ms before", async () => {
        const share = await stored({ expiryTime: at(0) });
        expect(await store.addNonce(makeNonce(share.shareId), 16, NOW)).to.equal('no-share');
        expect(await store.addNonce(makeNonce(share.shareId), 16, at(1))).to.equal('no-share');
        expect(await nonceKeys(backend.db)).to.deep.equal([]);
        const nonce = makeNonce(share.shareId, at(NONCE_TTL), at(-1));
        expect(await store.addNonce(nonce, 16, at(-1))).to.equal('added');
        expect(await nonceKeys(backend.db)).to.deep.equal([key(nonce)]);
      });

      it("answers 'no-share' for a case variant of a stored share id", async () => {
        const share = await stored();
        expect(await store.addNonce(makeNonce(share.shareId.toUpperCase()), 16, NOW)).to.equal('no-share');
        expect(await nonceKeys(backend.db)).to.deep.equal([]);
      });

      it("adds up to maxLive nonces for a share, then answers 'too-many' and stores nothing more", async () => {
        const share = await stored();
        const added: ShareNonce[] = [];
        for (let i = 0; i < 4; i++) {
          const nonce = makeNonce(share.shareId);
          expect(await store.addNonce(nonce, 4, NOW), `nonce ${i + 1}`).to.equal('added');
          added.push(nonce);
        }
        expect(await store.addNonce(makeNonce(share.shareId), 4, NOW)).to.equal('too-many');
        expect(await store.addNonce(makeNonce(share.shareId), 4, NOW)).to.equal('too-many');
        expect(await nonceKeys(backend.db)).to.deep.equal(added.map(key).sort());
      });

      it('allows exactly one live nonce with maxLive 1', async () => {
        const share = await stored();
        expect(await store.addNonce(makeNonce(share.shareId), 1, NOW)).to.equal('added');
        expect(await store.addNonce(makeNonce(share.shareId), 1, NOW)).to.equal('too-many');
      });

      it('does not count stale nonces (expiresAt <= now) toward the bound', async () => {
        const share = await stored();
        const issuedAt = at(-NONCE_TTL);
        for (let i = 0; i < 3; i++) {
          expect(await store.addNonce(makeNonce(share.shareId, NOW, issuedAt), 3, issuedAt)).to.equal('added');
        }
        // 1 ms before their expiry the three still count…
        expect(await store.addNonce(makeNonce(share.shareId, at(NONCE_TTL - 1), at(-1)), 3, at(-1))).to.equal(
          'too-many',
        );
        // …at their expiry they are stale and no longer do, although their rows are still there.
        const fresh = makeNonce(share.shareId);
        expect(await store.addNonce(fresh, 3, NOW)).to.equal('added');
        expect(await nonceKeys(backend.db, share.shareId)).to.have.length(4);
        expect(await store.addNonce(makeNonce(share.shareId), 3, NOW)).to.equal('added');
        expect(await store.addNonce(makeNonce(share.shareId), 3, NOW)).to.equal('added');
        expect(await store.addNonce(makeNonce(share.shareId), 3, NOW)).to.equal('too-many');
      });

      it("does not count another share's nonces toward the bound", async () => {
        const full = await stored();
        const other = await stored();
        for (let i = 0; i < 3; i++) {
          await store.addNonce(makeNonce(full.shareId), 3, NOW);
        }
        expect(await store.addNonce(makeNonce(full.shareId), 3, NOW)).to.equal('too-many');
        for (let i = 0; i < 3; i++) {
          expect(await store.addNonce(makeNonce(other.shareId), 3, NOW), `other ${i + 1}`).to.equal('added');
        }
        expect(await store.addNonce(makeNonce(other.shareId), 3, NOW)).to.equal('too-many');
        expect(await nonceKeys(backend.db, full.shareId)).to.have.length(3);
        expect(await nonceKeys(backend.db, other.shareId)).to.have.length(3);
      });

      it('stores the nonce with its share id, creation and expiry instants exactly', async () => {
        const share = await stored();
        const nonce = makeNonce(share.shareId, new Date('2030-06-01T12:05:00.321Z'), new Date(NOW.getTime() + 7));
        expect(await store.addNonce(nonce, 16, NOW)).to.equal('added');
        const row = (await backend.db(NONCES).first()) as
          { share_id: unknown; nonce: unknown; created_at: unknown; expires_at: unknown } | undefined;
        expect(asText(row?.share_id)).to.equal(share.shareId);
        expect(asText(row?.nonce)).to.equal(nonce.nonce);
        expect(Number(row?.created_at)).to.equal(nonce.createdAt.getTime());
        expect(Number(row?.expires_at)).to.equal(nonce.expiresAt.getTime());
      });

      it('a consumed nonce no longer counts toward the bound', async () => {
        const share = await stored();
        const nonces = [makeNonce(share.shareId), makeNonce(share.shareId)];
        for (const nonce of nonces) {
          expect(await store.addNonce(nonce, 2, NOW)).to.equal('added');
        }
        expect(await store.addNonce(makeNonce(share.shareId), 2, NOW)).to.equal('too-many');
        expect(await store.consumeNonce(share.shareId, (nonces[0] as ShareNonce).nonce, NOW)).to.equal(true);
        expect(await store.addNonce(makeNonce(share.shareId), 2, NOW)).to.equal('added');
      });
    });

    describe('consumeNonce', () => {
      it('consumes a live nonce of the share once: true, then false, and the row is gone', async () => {
        const share = await stored();
        const nonce = await issued(share.shareId);
        const other = await issued(share.shareId);

        expect(await store.consumeNonce(share.shareId, nonce.nonce, NOW)).to.equal(true);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(other)]);
        expect(await store.consumeNonce(share.shareId, nonce.nonce, NOW)).to.equal(false);
        expect(await store.consumeNonce(share.shareId, nonce.nonce, at(1))).to.equal(false);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(other)]);
      });

      it("refuses a nonce of another share and leaves that share's nonce usable", async () => {
        const mine = await stored();
        const theirs = await stored();
        const theirNonce = await issued(theirs.shareId);

        expect(await store.consumeNonce(mine.shareId, theirNonce.nonce, NOW)).to.equal(false);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(theirNonce)]);
        expect(await store.consumeNonce(theirs.shareId, theirNonce.nonce, NOW)).to.equal(true);
      });

      it('consumes only the named share when the same nonce value was issued for two shares', async () => {
        const first = await stored();
        const second = await stored();
        const nonce = makeNonce(first.shareId);
        const twin: ShareNonce = { ...nonce, shareId: second.shareId };
        expect(await store.addNonce(nonce, 16, NOW)).to.equal('added');
        expect(await store.addNonce(twin, 16, NOW)).to.equal('added');

        expect(await store.consumeNonce(first.shareId, nonce.nonce, NOW)).to.equal(true);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(twin)]);
        expect(await store.consumeNonce(first.shareId, nonce.nonce, NOW)).to.equal(false);
        expect(await store.consumeNonce(second.shareId, nonce.nonce, NOW)).to.equal(true);
        expect(await nonceKeys(backend.db)).to.deep.equal([]);
      });

      it('refuses an unknown nonce and a nonce for an unknown share', async () => {
        const share = await stored();
        const nonce = await issued(share.shareId);

        expect(await store.consumeNonce(share.shareId, newNonce(), NOW)).to.equal(false);
        expect(await store.consumeNonce(newShareId(), nonce.nonce, NOW)).to.equal(false);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(nonce)]);
      });

      it('compares nonces and share ids exactly: case variants and spaces are refused', async () => {
        const share = await stored();
        const nonce: ShareNonce = { ...makeNonce(share.shareId), nonce: 'AbCdEfGh-_012345' };
        expect(await store.addNonce(nonce, 16, NOW)).to.equal('added');

        for (const [shareId, value] of [
          [share.shareId, 'abCdEfGh-_012345'],
          [share.shareId, nonce.nonce.toUpperCase()],
          [share.shareId, nonce.nonce.toLowerCase()],
          [share.shareId, `${nonce.nonce} `],
          [share.shareId, ` ${nonce.nonce}`],
          [share.shareId.toUpperCase(), nonce.nonce],
          [`${share.shareId} `, nonce.nonce],
        ] as const) {
          expect(await store.consumeNonce(shareId, value, NOW), `${shareId}/${value}`).to.equal(false);
        }
        expect(await nonceKeys(backend.db)).to.deep.equal([key(nonce)]);
        expect(await store.consumeNonce(share.shareId, nonce.nonce, NOW)).to.equal(true);
      });

      it('refuses a stale nonce (expiresAt <= now) and accepts it 1 ms before its expiry', async () => {
        const share = await stored();
        const stale = await issued(share.shareId, NOW, at(-NONCE_TTL));
        const older = await issued(share.shareId, at(-1), at(-NONCE_TTL));
        const live = await issued(share.shareId, at(1), at(-NONCE_TTL));

        expect(await store.consumeNonce(share.shareId, stale.nonce, NOW)).to.equal(false);
        expect(await store.consumeNonce(share.shareId, older.nonce, NOW)).to.equal(false);
        expect(await store.consumeNonce(share.shareId, live.nonce, NOW)).to.equal(true);
        expect(await nonceKeys(backend.db)).to.not.include(key(live));
      });
    });

    describe('deleteExpired', () => {
      it('removes expired shares together with all their nonces and keeps live shares and their nonces', async () => {
        const issuedAt = at(-DAY);
        const expired = [await stored({ expiryTime: NOW }), await stored({ expiryTime: at(-1000) })];
        const live = [await stored({ expiryTime: at(1) }), await stored({ expiryTime: at(DAY) })];
        const kept: ShareNonce[] = [];
        for (const share of [...expired, ...live]) {
          // One nonce still live at NOW and one stale, per share.
          const liveNonce = await issued(share.shareId, at(NONCE_TTL), issuedAt);
          const staleNonce = await issued(share.shareId, at(-1), issuedAt);
          if (live.includes(share)) {
            kept.push(liveNonce, staleNonce);
          }
        }

        expect(await store.deleteExpired(NOW, 10)).to.equal(2);
        expect(await shareIds(backend.db)).to.deep.equal(live.map((share) => share.shareId).sort());
        expect(await nonceKeys(backend.db)).to.deep.equal(kept.map(key).sort());
        expect(await store.deleteExpired(NOW, 10)).to.equal(0);
        for (const share of live) {
          expectSameShare(await store.findUnexpired(share.shareId, NOW), share);
        }
      });

      it('deletes at most limit shares per call, and the nonces of exactly those shares', async () => {
        const expired: StoredShare[] = [];
        const nonceOf = new Map<string, ShareNonce>();
        for (let i = 0; i < 5; i++) {
          const share = await stored({ expiryTime: at(-1000 * (i + 1)) });
          expired.push(share);
          nonceOf.set(share.shareId, await issued(share.shareId, at(NONCE_TTL), at(-DAY)));
        }
        const live = await stored();

        expect(await store.deleteExpired(NOW, 2)).to.equal(2);
        const left = await shareIds(backend.db);
        expect(left).to.have.length(4).and.to.include(live.shareId);
        const leftExpired = expired.filter((share) => left.includes(share.shareId));
        expect(leftExpired).to.have.length(3);
        expect(await nonceKeys(backend.db)).to.deep.equal(
          leftExpired.map((share) => key(nonceOf.get(share.shareId) as ShareNonce)).sort(),
        );

        expect(await store.deleteExpired(NOW, 2)).to.equal(2);
        expect(await store.deleteExpired(NOW, 2)).to.equal(1);
        expect(await store.deleteExpired(NOW, 2)).to.equal(0);
        expect(await shareIds(backend.db)).to.deep.equal([live.shareId]);
        expect(await nonceKeys(backend.db)).to.deep.equal([]);
      });
    });

    describe('deleteStaleNonces', () => {
      it('removes only stale nonces (expiresAt <= now) and leaves shares and live nonces alone', async () => {
        const first = await stored();
        const second = await stored();
        const issuedAt = at(-NONCE_TTL);
        const stale = [
          await issued(first.shareId, NOW, issuedAt),
          await issued(first.shareId, at(-1), issuedAt),
          await issued(second.shareId, at(-5000), issuedAt),
        ];
        const live = [
          await issued(first.shareId, at(1), issuedAt),
          await issued(second.shareId, at(NONCE_TTL), issuedAt),
        ];

        expect(await store.deleteStaleNonces(NOW, 10)).to.equal(stale.length);
        expect(await nonceKeys(backend.db)).to.deep.equal(live.map(key).sort());
        expect(await shareIds(backend.db)).to.deep.equal([first.shareId, second.shareId].sort());
        expect(await store.deleteStaleNonces(NOW, 10)).to.equal(0);
        expect(await store.consumeNonce(first.shareId, (live[0] as ShareNonce).nonce, NOW)).to.equal(true);
      });

      it('deletes at most limit nonces per call, oldest first', async () => {
        const first = await stored();
        const second = await stored();
        const issuedAt = at(-DAY);
        // Expiries interleaved across the two shares and not in insertion order.
        const offsets = [-3000, -1000, -5000, -2000, -4000];
        const stale: ShareNonce[] = [];
        for (const [i, offset] of offsets.entries()) {
          stale.push(await issued((i % 2 === 0 ? first : second).shareId, at(offset), issuedAt));
        }
        const live = await issued(first.shareId, at(NONCE_TTL), issuedAt);
        const byAge = [...stale].sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());
        const remainingAfter = (deleted: number): string[] => [...byAge.slice(deleted), live].map(key).sort();

        expect(await store.deleteStaleNonces(NOW, 2)).to.equal(2);
        expect(await nonceKeys(backend.db)).to.deep.equal(remainingAfter(2));
        expect(await store.deleteStaleNonces(NOW, 2)).to.equal(2);
        expect(await nonceKeys(backend.db)).to.deep.equal(remainingAfter(4));
        expect(await store.deleteStaleNonces(NOW, 2)).to.equal(1);
        expect(await store.deleteStaleNonces(NOW, 2)).to.equal(0);
        expect(await nonceKeys(backend.db)).to.deep.equal([key(live)]);
      });
    });

    describe('runExpiryCleanup over shares and nonces', () => {
      it('empties both backlogs over several bounded runs and keeps everything live', async () => {
        const issuedAt = at(-DAY);
        const liveShares: StoredShare[] = [];
        const liveNonces: ShareNonce[] = [];
        for (let i = 0; i < 7; i++) {
          const share = await stored({ expiryTime: at(-1000 * i) });
          await issued(share.shareId, at(NONCE_TTL), issuedAt);
          await issued(share.shareId, at(-1), issuedAt);
        }
        for (let i = 0; i < 3; i++) {
          const share = await stored({ expiryTime: at(DAY + i) });
          liveShares.push(share);
          liveNonces.push(await issued(share.shareId, at(NONCE_TTL), issuedAt));
          for (let j = 0; j < 3; j++) {
            await issued(share.shareId, at(-1000 * j), issuedAt);
          }
        }
        // 7 expired shares (14 nonces with them) and 9 stale nonces of live shares.
        expect(await nonceKeys(backend.db)).to.have.length(14 + 12);

        const nonceDeleter = { deleteExpired: (now: Date, limit: number) => store.deleteStaleNonces(now, limit) };
        const clock = createTestClock(NOW);
        const limits = { batchSize: 2, maxBatches: 2 };
        const results: number[] = [];
        for (let run = 0; run < 20; run++) {
          const deleted = await runExpiryCleanup([store, nonceDeleter], clock, limits);
          results.push(deleted);
          if (deleted === 0) {
            break;
          }
        }

        // Each run deletes at most batchSize × maxBatches per deleter; the backlog needs several runs.
        expect(results.length, `runs: ${results.join(', ')}`).to.be.greaterThan(2);
        for (const deleted of results) {
          expect(deleted).to.be.at.most(2 * 2 * 2);
        }
        expect(results[0]).to.equal(8);
        expect(results[results.length - 1]).to.equal(0);
        expect(await shareIds(backend.db)).to.deep.equal(liveShares.map((share) => share.shareId).sort());
        expect(await nonceKeys(backend.db)).to.deep.equal(liveNonces.map(key).sort());
        expect(await store.deleteExpired(NOW, 100)).to.equal(0);
        expect(await store.deleteStaleNonces(NOW, 100)).to.equal(0);
      });
    });
  });
});
