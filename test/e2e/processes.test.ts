import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createDatabase, type Database } from '../../src/storage/database.js';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../support/auth-ticket-builder.js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/mysql.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  https,
  recipientClient,
  senderClient,
  TEST_SHARES_BASE_URL,
} from '../support/test-server.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Server processes as an operator runs them (`cdoc2-keyserver serve --config`), on one MariaDB database. */
describe('server processes', function () {
  this.timeout(90_000);
  let pki: TestPki;

  before(async () => {
    pki = await getTestPki();
  });

  describe('SIGTERM during a burst of requests', () => {
    let database: TestDatabase;
    before(async () => {
      database = await createTestDatabase();
    });
    after(() => database.drop());

    it('exits 0, and every capsule it acknowledged can be fetched afterwards', async () => {
      const server = await startServerProcess(pki, database.url);
      const client = pki.clients.ecP256;
      const body = capsuleJson(capsuleFor(client));
      const acknowledged: string[] = [];
      let refused = 0;
      let next = 0;
      let stopping: Promise<number | null> | undefined;
      const worker = async (): Promise<void> => {
        while (next < 400) {
          next++;
          try {
            const res = await https(pki, {
              port: server.capsulePorts.restSender,
              method: 'POST',
              path: '/key-capsules',
              headers: JSON_HEADERS,
              body,
            });
            if (res.status === 201) {
              acknowledged.push(String(res.headers['location']).slice('/key-capsules/'.length));
              if (acknowledged.length === 60) {
                stopping = server.stop('SIGTERM');
              }
            } else {
              refused++;
            }
          } catch {
            refused++; // connection refused or reset while stopping: never acknowledged
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      expect(stopping, 'the burst ended before 60 acknowledgements').to.not.equal(undefined);
      expect(await stopping).to.equal(0);
      expect(refused, 'requests after the stop were refused, not lost').to.be.greaterThan(0);

      // A fresh instance on the same database serves every acknowledged capsule.
      const after = await startServerProcess(pki, database.url);
      try {
        for (const id of acknowledged) {
          const res = await https(pki, {
            port: after.capsulePorts.restRecipient,
            method: 'GET',
            path: `/key-capsules/${id}`,
            client,
          });
          expect(res.status, id).to.equal(200);
        }
      } finally {
        expect(await after.stop()).to.equal(0);
      }
      expect(acknowledged.length).to.be.at.least(60);
    });
  });

  describe('two instances on one database', () => {
    let database: TestDatabase;
    let db: Database;
    let one: ServerProcess;
    let two: ServerProcess;

    before(async () => {
      database = await createTestDatabase();
      const cleanup = ['cleanup: { interval: PT1S, batchSize: 25, maxBatches: 2 }'];
      one = await startServerProcess(pki, database.url, cleanup);
      two = await startServerProcess(pki, database.url, cleanup);
      db = createDatabase({ url: database.url });
    });
    after(async () => {
      await one.stop();
      await two.stop();
      await db.destroy();
      await database.drop();
    });

    it('stores a capsule on one and serves it from the other, over REST and gRPC', async () => {
      const client = pki.clients.rsa2048;
      const capsule = capsuleFor(client);
      const created = await https(pki, {
        port: one.capsulePorts.restSender,
        method: 'POST',
        path: '/key-capsules',
        headers: JSON_HEADERS,
        body: capsuleJson(capsule),
      });
      const id = String(created.headers['location']).slice('/key-capsules/'.length);
      const fetched = await https(pki, {
        port: two.capsulePorts.restRecipient,
        method: 'GET',
        path: `/key-capsules/${id}`,
        client,
      });
      expect(fetched.body).to.equal(capsuleJson(capsule));

      const sender = senderClient(pki, two.capsulePorts.grpcSender);
      const recipient = recipientClient(pki, one.capsulePorts.grpcRecipient, client);
      try {
        const viaGrpc = await grpcCreateCapsule(sender, {
          capsule: protoCapsule(capsule),
        });
        const got = await grpcGetCapsule(recipient, { transactionId: viaGrpc.transactionId });
        expect(Buffer.from(got.capsule?.recipientId ?? []).equals(capsule.recipientId)).to.equal(true);
      } finally {
        sender.close();
        recipient.close();
      }
    });

    it('issues a nonce on one and accepts the ticket for it on the other, once', async () => {
      const signer = pki.auth.ecP256;
      const created = await https(pki, {
        port: one.sharePorts.rest,
        method: 'POST',
        path: '/key-shares',
        headers: JSON_HEADERS,
        body: JSON.stringify({
          share: randomBytes(32).toString('base64'),
          recipient: `etsi/${serialNumberOf(signer)}`,
        }),
      });
      const id = String(created.headers['location']).slice('/key-shares/'.length);
      const nonce = JSON.parse(
        (await https(pki, { port: one.sharePorts.rest, method: 'POST', path: `/key-shares/${id}/nonce` })).body,
      ).nonce as string;
      const ticket = createAuthTicket({
        signer,
        urls: [`${TEST_SHARES_BASE_URL}/key-shares/${id}?nonce=${nonce}`],
      }).presentationFor(0);
      const headers = { 'x-cdoc2-auth-ticket': ticket, 'x-cdoc2-auth-x5c': oneLinePem(signer) };
      const first = await https(pki, { port: two.sharePorts.rest, method: 'GET', path: `/key-shares/${id}`, headers });
      expect(first.status).to.equal(200);
      const replay = await https(pki, { port: one.sharePorts.rest, method: 'GET', path: `/key-shares/${id}`, headers });
      expect(replay.status).to.equal(404);
    });

    it('deletes each expired row exactly once while both run the cleanup', async () => {
      const now = Date.now();
      const row = (i: number, expiresAt: number) => ({
        transaction_id: `KC${i.toString(16).padStart(32, '0')}`,
        capsule_type: 'rsa',
        recipient_id: Buffer.alloc(70),
        ephemeral_key_material: Buffer.alloc(10),
        expires_at: expiresAt,
        expiry_adjusted: false,
        created_at: now,
      });
      const expired = Array.from({ length: 300 }, (_, i) => row(i + 1, now - 1000));
      const live = Array.from({ length: 20 }, (_, i) => row(10_000 + i, now + 86_400_000));
      await db.batchInsert('key_capsules', [...expired, ...live], 100);
      const deletedBy = (server: ServerProcess): number =>
        server
          .output()
          .split('\n')
          .filter((line) => line.includes('"msg":"expired rows deleted"'))
          .reduce((sum, line) => sum + (JSON.parse(line) as { deleted: number }).deleted, 0);
      const before = deletedBy(one) + deletedBy(two);
      for (let i = 0; i < 100; i++) {
        const remaining = await db('key_capsules').where('expires_at', '<=', now).count({ n: '*' }).first();
        if (Number((remaining as { n: number }).n) === 0) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await new Promise((resolve) => setTimeout(resolve, 1500)); // let both finish the run they may be in
      const left = await db('key_capsules').where('expires_at', '<=', now).count({ n: '*' }).first();
      expect(Number((left as { n: number }).n)).to.equal(0);
      const liveLeft = await db('key_capsules').where('expires_at', '>', now).count({ n: '*' }).first();
      expect(Number((liveLeft as { n: number }).n)).to.be.at.least(20);
      expect(deletedBy(one) + deletedBy(two) - before).to.equal(300);
      expect(deletedBy(one), 'instance one deleted nothing').to.be.greaterThan(0);
      expect(deletedBy(two), 'instance two deleted nothing').to.be.greaterThan(0);
    });
  });
});
