// test-pki.ts (loaded by test-server.ts) loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { migrationNames } from '../../migrations/index.js';
import type { ShareNonce, StoredShare } from '../../src/domain/shares/key-share.js';
import type { ShareStore } from '../../src/domain/shares/share-store.js';
import { createDatabase, type Database } from '../../src/storage/database.js';
import { createKnexShareStore } from '../../src/storage/knex-share-store.js';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../support/auth-ticket-builder.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import { startGaleraCluster, type GaleraCluster } from '../support/galera-cluster.js';
import { makeShareNonce, makeStoredShare } from '../support/share-rows.js';
import {
  grpcCreateCapsule,
  grpcCreateNonce,
  grpcCreateShare,
  grpcGetCapsule,
  grpcGetShare,
  startTestServer,
} from '../support/test-server.js';
import { grpcCode, startInstance, stopInstance, type Instance } from './cluster-instances.js';

const TABLES = ['key_capsules', 'key_share_nonces', 'key_shares', 'knex_migrations', 'knex_migrations_lock'];

/**
 * Correctness on a three-node MariaDB Galera cluster (test/support/galera-cluster.ts): schema changes replicate,
 * a write through one node is read at once through another, and single-use and bounded things stay so when two
 * server instances on two different nodes race for them (Galera reports the loser's conflict at commit, as a
 * deadlock, where one server would have made it wait).
 */
describe('Galera cluster: consistency across nodes', function () {
  this.timeout(300_000);
  let cluster: GaleraCluster;
  /** Instance 0 on node 1, instance 1 on node 2, each connected to its node directly. */
  const instances: Instance[] = [];

  before(async () => {
    cluster = await startGaleraCluster();
    // The first instance migrates through HAProxy; the others then find the schema current.
    const migrator = await startTestServer({ database: { url: cluster.multiWriterUrl } });
    await migrator.close();
    instances.push(await startInstance(cluster.nodeUrl(0)), await startInstance(cluster.nodeUrl(1)));
  });
  after(async () => {
    await Promise.all(instances.splice(0).map(stopInstance));
    await cluster?.destroy();
  });

  const instance = (index: number): Instance => instances[index % instances.length] as Instance;

  describe('schema', () => {
    it('has every migration and every table on every node (the DDL replicated), each table with a primary key', async () => {
      for (const node of [0, 1, 2]) {
        const applied = await cluster.query<{ name: string }>(
          node,
          'SELECT name FROM cdoc2.knex_migrations ORDER BY id',
        );
        expect(
          applied.map((row) => row.name),
          `node${node + 1}`,
        ).to.deep.equal(migrationNames());
        const tables = await cluster.query<{ name: string; keyed: number }>(
          node,
          `SELECT t.TABLE_NAME AS name,
                  (SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS c
                    WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
                      AND c.CONSTRAINT_TYPE = 'PRIMARY KEY') AS keyed,
                  t.ENGINE AS engine
             FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = 'cdoc2'`,
        );
        expect(tables.map((table) => table.name).sort(), `node${node + 1}`).to.deep.equal(TABLES);
        for (const table of tables) {
          expect(Number(table.keyed), `${table.name} on node${node + 1} has a primary key`).to.equal(1);
          expect((table as unknown as { engine: string }).engine, table.name).to.equal('InnoDB');
        }
      }
    });
  });

  describe('first start', () => {
    // Through the single-writer listener, so that every instance migrates on one node: MySQL named locks (GET_LOCK)
    // do not leave a Galera node, and instances on different nodes have been seen to run the same ALTER TABLE twice
    // (ER_DUP_FIELDNAME). README "A MariaDB Galera cluster behind HAProxy" says to start that way, or migrate first.
    it('starts three instances together on an empty database through the single-writer listener, migrated once', async () => {
      await cluster.query(0, 'CREATE DATABASE cdoc2_first_start CHARACTER SET utf8mb4');
      const url = cluster.singleWriterUrl.replace(/\/cdoc2$/, '/cdoc2_first_start');
      const started = await Promise.allSettled([0, 1, 2].map(() => startTestServer({ database: { url } })));
      await Promise.all(started.flatMap((entry) => (entry.status === 'fulfilled' ? [entry.value.close()] : [])));
      expect(started.filter((entry) => entry.status === 'rejected').map((entry) => String(entry.reason))).to.deep.equal(
        [],
      );
      for (const node of [0, 1, 2]) {
        await cluster.waitForClusterSize(node, 3);
        const applied = await cluster.query<{ name: string }>(
          node,
          'SELECT name FROM cdoc2_first_start.knex_migrations ORDER BY id',
        );
        expect(applied.map((row) => row.name)).to.deep.equal(migrationNames());
      }
    });
  });

  describe('read-after-write across nodes', () => {
    it('runs every server session with wsrep_sync_wait = 3 (reads, UPDATE and DELETE wait for causality)', async () => {
      for (const index of [0, 1]) {
        const rows = (await instance(index).server.app.database.raw('SELECT @@session.wsrep_sync_wait AS wait')) as [
          { wait: number }[],
        ];
        expect(Number(rows[0][0]?.wait)).to.equal(3);
      }
    });

    it('serves a capsule stored through one node from the other at once, 40 times in both directions', async () => {
      const capsule = capsuleFor(instance(0).server.pki.clients.ecP256);
      for (let i = 0; i < 40; i++) {
        const writer = instance(i);
        const reader = instance(i + 1);
        const { transactionId } = await grpcCreateCapsule(writer.capsuleSender, { capsule: protoCapsule(capsule) });
        const fetched = await grpcGetCapsule(reader.capsuleRecipient, { transactionId });
        expect(Buffer.from(fetched.capsule?.ephemeralKeyMaterial ?? []).equals(capsule.ephemeralKeyMaterial)).to.equal(
          true,
        );
      }
    });
  });

  describe('the same presentation sent to two nodes at the same moment', () => {
    it('gives the share to exactly one of them and NOT_FOUND to the other, 12 rounds (nonce from the other node)', async () => {
      const signer = instance(0).server.pki.auth.rsa2048;
      const recipient = `etsi/${serialNumberOf(signer)}`;
      for (let round = 0; round < 12; round++) {
        const share = randomBytes(32);
        const { shareId } = await grpcCreateShare(instance(round).shareSender, {
          keyShare: { share, recipient },
        });
        const nonce = await grpcCreateNonce(instance(round + 1).shareRecipient, shareId);
        const ticket = createAuthTicket({ signer, urls: [`https://css.test/key-shares/${shareId}?nonce=${nonce}`] });
        const request = { shareId, authTicket: ticket.presentationFor(0), authX5c: oneLinePem(signer) };
        const settled = await Promise.allSettled([
          grpcGetShare(instance(0).shareRecipient, request),
          grpcGetShare(instance(1).shareRecipient, request),
        ]);
        const served = settled.filter((entry) => entry.status === 'fulfilled');
        const refused = settled.flatMap((entry) => (entry.status === 'rejected' ? [grpcCode(entry.reason)] : []));
        expect(refused, `round ${round}`).to.deep.equal(['NOT_FOUND']);
        expect(served).to.have.length(1);
        const answer = (served[0] as PromiseFulfilledResult<{ keyShare?: { share: Buffer } }>).value;
        expect(Buffer.from(answer.keyShare?.share ?? []).equals(share)).to.equal(true);
      }
    });
  });

  describe('the bound on live nonces per share, with requests spread over two nodes', () => {
    it('issues exactly 16 of 40 concurrent nonce requests and answers RESOURCE_EXHAUSTED to the rest', async () => {
      const { shareId } = await grpcCreateShare(instance(0).shareSender, {
        keyShare: { share: randomBytes(32), recipient: 'etsi/PNOEE-48010010101' },
      });
      const settled = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => grpcCreateNonce(instance(i).shareRecipient, shareId)),
      );
      const refused = settled.flatMap((entry) => (entry.status === 'rejected' ? [grpcCode(entry.reason)] : []));
      expect(settled.filter((entry) => entry.status === 'fulfilled')).to.have.length(16);
      expect([...new Set(refused)]).to.deep.equal(['RESOURCE_EXHAUSTED']);
      for (const node of [0, 1, 2]) {
        await cluster.waitForClusterSize(node, 3);
        const [row] = await cluster.query<{ n: number }>(
          node,
          'SELECT COUNT(*) AS n FROM cdoc2.key_share_nonces WHERE share_id = ?',
          [shareId],
        );
        expect(Number(row?.n), `node${node + 1}`).to.equal(16);
      }
    });
  });

  describe('the share store on three nodes at once', () => {
    const NOW = new Date();
    let databases: Database[];
    let stores: ShareStore[];
    before(() => {
      databases = [0, 1, 2].map((node) => createDatabase({ url: cluster.nodeUrl(node) }));
      stores = databases.map((db) => createKnexShareStore(db));
    });
    after(async () => {
      await Promise.all(databases.map((db) => db.destroy()));
    });
    const store = (i: number): ShareStore => stores[i % 3] as ShareStore;
    /** Write conflicts Galera reported on all nodes so far: certification failures and brute-force aborts. */
    const conflicts = async (): Promise<number> => {
      let total = 0;
      for (const node of [0, 1, 2]) {
        const rows = await cluster.query<{ Value: string }>(
          node,
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')",
        );
        total += rows.reduce((sum, row) => sum + Number(row.Value), 0);
      }
      return total;
    };
    const storedShare = async (): Promise<StoredShare> => {
      const share = makeStoredShare(NOW);
      await store(0).insert(share);
      return share;
    };
    const makeNonce = (shareId: string): ShareNonce => makeShareNonce(shareId, NOW);

    it('lets exactly one of 30 concurrent consumptions of one nonce succeed, the others answer false, none throws', async () => {
      const before = await conflicts();
      for (let round = 0; round < 5; round++) {
        const share = await storedShare();
        const nonce = makeNonce(share.shareId);
        expect(await store(round).addNonce(nonce, 16, NOW)).to.equal('added');
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => store(i).consumeNonce(share.shareId, nonce.nonce, NOW)),
        );
        expect(results.filter(Boolean), `round ${round}`).to.have.length(1);
      }
      // The conflicts did happen, and were answered by the store's re-run, not by an error.
      expect(await conflicts()).to.be.above(before);
    });

    it("keeps the bound: 45 concurrent addNonce calls over three nodes with maxLive 16 give 16 'added'", async () => {
      const share = await storedShare();
      const before = await conflicts();
      const results = await Promise.all(
        Array.from({ length: 45 }, (_, i) => store(i).addNonce(makeNonce(share.shareId), 16, NOW)),
      );
      expect(results.filter((result) => result === 'added')).to.have.length(16);
      expect(results.filter((result) => result === 'too-many')).to.have.length(29);
      expect(await conflicts()).to.be.above(before);
    });
  });

  describe('cleanup from several instances at once', () => {
    it('deletes every expired row exactly once, without an error, while both instances clean concurrently', async () => {
      const writer = createDatabase({ url: cluster.nodeUrl(2) });
      try {
        const past = Date.now() - 60_000;
        const future = Date.now() + 86_400_000;
        const capsules = (expiresAt: number) =>
          Array.from({ length: 200 }, () => ({
            transaction_id: `KC${randomBytes(16).toString('hex')}`,
            capsule_type: 'ecc_secp256r1',
            recipient_id: randomBytes(65),
            ephemeral_key_material: randomBytes(65),
            expires_at: expiresAt,
            expiry_adjusted: false,
            created_at: past - 60_000,
          }));
        await writer('key_capsules').insert(capsules(past));
        const kept = capsules(future).slice(0, 10);
        await writer('key_capsules').insert(kept);
        const shares = Array.from({ length: 60 }, () => ({
          share_id: randomBytes(16).toString('hex'),
          share: randomBytes(32),
          recipient: 'etsi/PNOEE-48010010101',
          expires_at: past,
          expiry_adjusted: false,
          created_at: past - 60_000,
        }));
        await writer('key_shares').insert(shares);
        await writer('key_share_nonces').insert(
          shares.map((share) => ({
            share_id: share.share_id,
            nonce: randomBytes(12).toString('base64url'),
            created_at: past - 60_000,
            expires_at: past,
          })),
        );

        const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => instance(i).server.app.runCleanup()));
        const deleted = runs.reduce((sum, count) => sum + count, 0);
        // 200 capsules and 60 shares; a share's nonce goes with it (cascade) or as a stale nonce, once.
        expect(deleted).to.be.within(260, 320);
        for (const node of [0, 1, 2]) {
          const [expired] = await cluster.query<{ n: number }>(
            node,
            'SELECT (SELECT COUNT(*) FROM cdoc2.key_capsules WHERE expires_at <= ?) + ' +
              '(SELECT COUNT(*) FROM cdoc2.key_shares WHERE expires_at <= ?) + ' +
              '(SELECT COUNT(*) FROM cdoc2.key_share_nonces WHERE expires_at <= ?) AS n',
            [past, past, past],
          );
          expect(Number(expired?.n), `expired rows left on node${node + 1}`).to.equal(0);
          const [left] = await cluster.query<{ n: number }>(
            node,
            `SELECT COUNT(*) AS n FROM cdoc2.key_capsules WHERE transaction_id IN (${kept.map(() => '?').join(',')})`,
            kept.map((row) => row.transaction_id),
          );
          expect(Number(left?.n)).to.equal(kept.length);
        }
      } finally {
        await writer.destroy();
      }
    });
  });
});
