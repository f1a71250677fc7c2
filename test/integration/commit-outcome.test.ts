import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { StoredCapsule } from '../../src/domain/capsules/capsule.js';
import { createDatabase, migrateLatest, poolUse, type Database } from '../../src/storage/database.js';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { makeShareNonce, makeStoredShare } from '../support/share-rows.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-mariadb.js';
import { domainRejection } from '../support/rejections.js';

const QUERY_TIMEOUT_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rule of README "Shutdown and database outages": a write is answered by the outcome of its COMMIT. The
 * database (a MariaDB of the test's own) is frozen (SIGSTOP) at the moment the store sends a chosen statement and
 * thawed a chosen time later, so that the statement, or the COMMIT, is answered after the request's deadline.
 */
describe('writes answered by the outcome of their COMMIT (a MariaDB frozen mid-transaction)', function () {
  this.timeout(60_000);
  let mariadb: PrivateMariaDb;
  let db: Database;
  /** What the test's own connection sees (never frozen by the hooks: they act on the store's statements only). */
  let observer: Database;
  const freezes: Array<{ statement: RegExp; thawAfterMs: number }> = [];
  const thawed: Array<Promise<void>> = [];

  before(async () => {
    mariadb = await startPrivateMariaDb();
    db = createDatabase({ url: mariadb.url, queryTimeoutMs: QUERY_TIMEOUT_MS });
    await migrateLatest(db);
    // Knex announces each statement right before it sends it: the server stops before it can answer.
    db.on('query', ({ sql }: { sql: string }) => {
      const next = freezes[0];
      if (next && next.statement.test(sql)) {
        freezes.shift();
        mariadb.freeze();
        thawed.push(sleep(next.thawAfterMs).then(() => mariadb.thaw()));
      }
    });
    observer = createDatabase({ url: mariadb.url });
  });
  afterEach(async () => {
    freezes.length = 0;
    await Promise.all(thawed.splice(0));
  });
  after(async () => {
    mariadb?.thaw();
    await db?.destroy();
    await observer?.destroy();
    await mariadb?.destroy();
  });

  const freezeAt = (statement: RegExp, thawAfterMs: number): void => {
    freezes.push({ statement, thawAfterMs });
  };
  const BEGIN = /^BEGIN/i;
  const COMMIT = /^COMMIT/i;
  const DELETE_NONCE = /^delete from `key_share_nonces`/i;

  const capsule = (): StoredCapsule => ({
    transactionId: `KC${randomBytes(16).toString('hex')}`,
    capsuleType: 'ecc_secp384r1',
    recipientId: new Uint8Array(randomBytes(97)),
    ephemeralKeyMaterial: new Uint8Array(randomBytes(97)),
    expiryTime: new Date(Date.now() + 86_400_000),
    expiryTimeAdjusted: false,
    createdAt: new Date(),
  });

  const capsuleStored = async (transactionId: string): Promise<boolean> =>
    (await observer('key_capsules').where('transaction_id', transactionId).first('transaction_id')) !== undefined;

  const nonceStored = async (shareId: string, nonce: string): Promise<boolean> =>
    (await observer('key_share_nonces').where({ share_id: shareId, nonce }).first('nonce')) !== undefined;

  /**
   * The store's connections are all back in the pool: the late COMMIT has been answered and whatever followed it
   * (the deletion of what it committed) has run. Looking at the rows before could see them not yet committed.
   */
  const storeIdle = (): Promise<boolean> => Promise.resolve(poolUse(db).used === 0);

  /** Polls `check` until it holds, for at most `ms`. */
  const eventually = async (check: () => Promise<boolean>, ms = 10_000): Promise<boolean> => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) {
        return false;
      }
      await sleep(100);
    }
    return true;
  };

  it('answers a capsule creation whose COMMIT was sent in time but answered after the deadline as stored, and it is', async () => {
    const store = createKnexCapsuleStore(db);
    const stored = capsule();
    // The INSERT runs late (0.6 s), then the COMMIT is answered 0.6 s after it was sent: past the 1 s deadline.
    freezeAt(BEGIN, 600);
    freezeAt(COMMIT, 600);
    const started = Date.now();
    await store.insert(stored);
    expect(Date.now() - started, 'answered after the deadline').to.be.above(QUERY_TIMEOUT_MS);
    expect(await capsuleStored(stored.transactionId)).to.equal(true);
  });

  it('answers 503 for a capsule whose COMMIT goes unanswered, and removes it when the COMMIT turns out committed', async () => {
    const store = createKnexCapsuleStore(db);
    const lost = capsule();
    // Answered 2 s after it was sent: beyond the 1 s the request waits for a COMMIT's answer.
    freezeAt(COMMIT, 2 * QUERY_TIMEOUT_MS);
    const error = await domainRejection(store.insert(lost));
    expect(error.code).to.equal('unavailable');
    await Promise.all(thawed);
    // The frozen server commits when it resumes; the store then deletes the row nobody was told about.
    expect(await eventually(storeIdle)).to.equal(true);
    expect(await capsuleStored(lost.transactionId)).to.equal(false);
  });

  it('answers 503 for a nonce whose COMMIT goes unanswered, and removes the nonce so that it holds no place of the bound', async () => {
    const store = createKnexShareStore(db);
    const share = makeStoredShare(new Date());
    await store.insert(share);
    const nonce = makeShareNonce(share.shareId, new Date());
    freezeAt(COMMIT, 2 * QUERY_TIMEOUT_MS);
    const error = await domainRejection(store.addNonce(nonce, 1, new Date()));
    expect(error.code).to.equal('unavailable');
    await Promise.all(thawed);
    expect(await eventually(storeIdle)).to.equal(true);
    expect(await nonceStored(share.shareId, nonce.nonce)).to.equal(false);
    // The bound is 1: the place the lost nonce took is free again.
    expect(await store.addNonce(makeShareNonce(share.shareId, new Date()), 1, new Date())).to.equal('added');
  });

  it('keeps a nonce usable when consuming it was answered 503 (its DELETE answered after the deadline)', async () => {
    const store = createKnexShareStore(db);
    const share = makeStoredShare(new Date());
    await store.insert(share);
    const nonce = makeShareNonce(share.shareId, new Date());
    expect(await store.addNonce(nonce, 16, new Date())).to.equal('added');
    // The DELETE is answered 1.5 s after it was sent, when the request has been answered 503.
    freezeAt(DELETE_NONCE, 1500);
    const error = await domainRejection(store.consumeNonce(share.shareId, nonce.nonce, new Date()));
    expect(error.code).to.equal('unavailable');
    await Promise.all(thawed);
    // The resumed server runs what it had received: the DELETE, then the ROLLBACK.
    expect(await eventually(storeIdle)).to.equal(true);
    expect(await nonceStored(share.shareId, nonce.nonce), 'the nonce answered 503 for was used').to.equal(true);
    expect(await store.consumeNonce(share.shareId, nonce.nonce, new Date())).to.equal(true);
    expect(await store.consumeNonce(share.shareId, nonce.nonce, new Date())).to.equal(false);
  });

  it('answers a nonce consumption whose COMMIT was answered after the deadline by that COMMIT: used, once', async () => {
    const store = createKnexShareStore(db);
    const share = makeStoredShare(new Date());
    await store.insert(share);
    const nonce = makeShareNonce(share.shareId, new Date());
    expect(await store.addNonce(nonce, 16, new Date())).to.equal('added');
    freezeAt(DELETE_NONCE, 600);
    freezeAt(COMMIT, 600);
    const started = Date.now();
    expect(await store.consumeNonce(share.shareId, nonce.nonce, new Date())).to.equal(true);
    expect(Date.now() - started, 'answered after the deadline').to.be.above(QUERY_TIMEOUT_MS);
    expect(await nonceStored(share.shareId, nonce.nonce)).to.equal(false);
    expect(await store.consumeNonce(share.shareId, nonce.nonce, new Date())).to.equal(false);
  });
});
