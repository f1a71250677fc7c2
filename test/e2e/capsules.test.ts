import { expect } from 'chai';
import { capsuleFor, type TestCapsule } from '../support/capsule-fixtures.js';
import {
  CAPSULE_TRANSPORTS,
  type CapsuleDriver,
  type CapsuleTransport,
  type CreatedCapsule,
} from '../support/capsule-drivers.js';
import { CLIENT_KEYS, type ClientName } from '../support/test-pki.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { expectOk, expectRefused } from '../support/transport-outcome.js';

/**
 * The key capsule server's behaviour, one case list run over every transport (README "Using the API"): a
 * case cannot exist for REST and be forgotten for gRPC. What only one wire has (HTTP headers and paths, protobuf
 * framing, metadata) stays in capsules-rest.test.ts and capsules-grpc.test.ts.
 */
const DAY = 86_400_000;
const UNKNOWN_ID = `KC${'0'.repeat(32)}`;
/**
 * The reason a malformed transaction id is refused: REST reports the OpenAPI schema's check of the path parameter,
 * gRPC the service's own length rule (the two texts differ; the status is the same).
 */
const TRANSACTION_ID_DETAIL: Readonly<Record<CapsuleTransport['name'], RegExp>> = {
  REST: /transactionId/,
  gRPC: /18 to 34 characters/,
};

describe('key capsule server over both transports (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ capsules: { expiry: { default: 'P10D', max: 'P30D' } } });
  });
  after(() => server.close());

  const inDays = (days: number): Date => new Date(server.clock.now().getTime() + days * DAY);
  const capsuleOf = (name: ClientName): TestCapsule => capsuleFor(server.pki.clients[name]);
  const rowCount = async (): Promise<unknown> => server.app.database('key_capsules').count({ n: '*' }).first();

  for (const transport of CAPSULE_TRANSPORTS) {
    describe(transport.name, () => {
      let driver: CapsuleDriver;
      before(() => {
        driver = transport.driver(server);
      });
      after(() => driver.close());

      const store = async (capsule: TestCapsule, requestedExpiryTime?: Date): Promise<CreatedCapsule> =>
        expectOk(await driver.create(capsule, requestedExpiryTime));

      for (const name of Object.keys(CLIENT_KEYS) as ClientName[]) {
        it(`stores a capsule and serves it to the ${name} certificate that holds the recipient key`, async () => {
          const capsule = capsuleOf(name);
          const created = await store(capsule);
          expect(created.transactionId).to.match(/^KC[0-9a-f]{32}$/);
          const fetched = expectOk(await driver.get(created.transactionId, name));
          expect(fetched.capsule).to.deep.equal(capsule);
          expect(fetched.expiryTime.getTime()).to.equal(created.expiryTime.getTime());
        });
      }

      it('applies the default expiry when none is requested, and says it was not adjusted', async () => {
        const created = await store(capsuleOf('ecP256'));
        expect(created.expiryTime.getTime()).to.equal(inDays(10).getTime());
        expect(created.expiryTimeAdjusted).to.equal(false);
      });

      it('stores the same capsule twice as two capsules with two ids', async () => {
        const capsule = capsuleOf('ecP256');
        const [first, second] = await Promise.all([store(capsule), store(capsule)]);
        expect(first.transactionId).to.not.equal(second.transactionId);
      });

      it('keeps a requested expiry within the maximum and reports it on create and get', async () => {
        const requested = inDays(5);
        const created = await store(capsuleOf('ecP256'), requested);
        expect(created.expiryTime.toISOString()).to.equal(requested.toISOString());
        expect(created.expiryTimeAdjusted).to.equal(false);
        const fetched = expectOk(await driver.get(created.transactionId, 'ecP256'));
        expect(fetched.expiryTime.toISOString()).to.equal(requested.toISOString());
      });

      it('clamps an expiry beyond the maximum and reports it adjusted on create and get', async () => {
        const created = await store(capsuleOf('ecP256'), new Date('2199-01-01T00:00:00Z'));
        expect(created.expiryTimeAdjusted).to.equal(true);
        expect(created.expiryTime.getTime()).to.equal(inDays(30).getTime());
        const fetched = expectOk(await driver.get(created.transactionId, 'ecP256'));
        expect(fetched.expiryTimeAdjusted).to.equal(true);
      });

      it('refuses an expiry in the past as a bad request', async () => {
        const past = new Date(server.clock.now().getTime() - 1000);
        expectRefused(await driver.create(capsuleOf('ecP256'), past), 'bad-request');
      });

      it('answers not found when the certificate does not match, identical to an unknown id', async () => {
        const { transactionId } = await store(capsuleOf('ecP256'));
        const unknown = expectRefused(await driver.get(UNKNOWN_ID, 'ecP256'), 'not-found');
        expect(unknown.detail).to.equal('key capsule not found');
        // Another curve, and keys of the other kind: none may learn that the id exists.
        for (const wrong of ['ecP384', 'ecP521', 'rsa2048', 'rsa4096'] as const) {
          const refused = expectRefused(await driver.get(transactionId, wrong), 'not-found');
          expect(refused.comparable, wrong).to.deep.equal(unknown.comparable);
        }
      });

      it('answers the same not found once the capsule has expired, even before the cleanup deletes it', async () => {
        const { transactionId } = await store(capsuleOf('ecP256'), inDays(1));
        expectOk(await driver.get(transactionId, 'ecP256'));
        const unknown = expectRefused(await driver.get(`KC${'f'.repeat(32)}`, 'ecP256'), 'not-found');
        server.clock.advance(DAY);
        try {
          const expired = expectRefused(await driver.get(transactionId, 'ecP256'), 'not-found');
          expect(expired.comparable).to.deep.equal(unknown.comparable);
          expect(expired.detail).to.equal('key capsule not found');
        } finally {
          server.clock.advance(-DAY);
        }
      });

      it('deletes expired capsules in the cleanup and keeps the rest', async () => {
        const shortLived = await store(capsuleOf('ecP256'), new Date(server.clock.now().getTime() + 60_000));
        const longLived = await store(capsuleOf('ecP256'));
        const ids = [shortLived.transactionId, longLived.transactionId];
        server.clock.advance(120_000);
        try {
          expect(await server.app.runCleanup()).to.be.greaterThanOrEqual(1);
          const rows = await server.app.database('key_capsules').whereIn('transaction_id', ids);
          // The id column is VARBINARY on MariaDB (exact comparison), so it reads back as a Buffer.
          expect(rows.map((row: { transaction_id: Buffer }) => row.transaction_id.toString('latin1'))).to.deep.equal([
            longLived.transactionId,
          ]);
        } finally {
          server.clock.advance(-120_000);
        }
      });

      for (const length of [17, 35]) {
        it(`answers a bad request to a transaction id of ${length} characters`, async () => {
          const refused = expectRefused(await driver.get('K'.repeat(length), 'ecP256'), 'bad-request');
          expect(refused.detail).to.match(TRANSACTION_ID_DETAIL[transport.name]);
        });
      }

      for (const field of ['ephemeralKeyMaterial', 'recipientId'] as const) {
        const wire = field === 'recipientId' ? 'recipient_id' : 'ephemeral_key_material';
        it(`answers a bad request to a 2101-byte ${wire} and stores nothing`, async () => {
          const capsule = { ...capsuleOf('rsa2048'), [field]: Buffer.alloc(2101, 1) };
          const before = await rowCount();
          const refused = expectRefused(await driver.create(capsule), 'bad-request');
          expect(refused.detail).to.match(new RegExp(wire));
          expect(await rowCount()).to.deep.equal(before);
        });
      }

      it('answers a bad request to a point that is not on the curve', async () => {
        const valid = capsuleOf('ecP256');
        const offCurve = Buffer.from(valid.recipientId);
        offCurve[64] = (offCurve[64] ?? 0) ^ 1;
        const refused = expectRefused(await driver.create({ ...valid, recipientId: offCurve }), 'bad-request');
        expect(refused.detail).to.equal('recipient_id is not a point on P-256');
      });
    });
  }
});
