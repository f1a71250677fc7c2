import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import { startPrivateMariaDb, type PrivateMariaDb } from '../support/private-mariadb.js';
import { createDatabase } from '../../src/storage/database.js';
import { createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import { REST_SHARES, restGet, ticketHeaders, type ShareDriver } from '../support/share-drivers.js';
import { issueShare, recipientOf } from './shares-helpers.js';
import {
  grpcCreateCapsule,
  https,
  PROBLEM_ACCEPT,
  readiness,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

const QUERY_TIMEOUT_MS = 1000;

const timed = async <T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> => {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
};

/** The database goes away under a running server, and comes back (a MariaDB of the test's own). */
describe('database outage', function () {
  this.timeout(90_000);
  let mariadb: PrivateMariaDb;
  let server: TestServer;

  before(async () => {
    mariadb = await startPrivateMariaDb();
    server = await startTestServer({
      database: { url: mariadb.url, queryTimeout: `PT${QUERY_TIMEOUT_MS / 1000}S`, readinessTimeout: 'PT1S' },
    });
  });
  after(async () => {
    await server.close();
    await mariadb.destroy();
  });

  /** The capsules the database holds, read on a connection of the test's own. */
  const storedCapsules = async (): Promise<number> => {
    const db = createDatabase({ url: mariadb.url });
    try {
      const [row] = await db('key_capsules').count({ n: '*' });
      return Number(row?.['n']);
    } finally {
      await db.destroy();
    }
  };

  const post = (headers: Record<string, string> = {}) =>
    https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { 'content-type': 'application/json', ...headers },
      body: capsuleJson(capsuleFor(server.pki.clients.ecP256)),
    });

  it('answers 503 / UNAVAILABLE with a clear message while the database is down, then recovers by itself', async () => {
    const before = await post();
    expect(before.status).to.equal(201);
    const storedId = String(before.headers['location']).slice('/key-capsules/'.length);

    await mariadb.stop();
    // Empty by default (as the official servers answer errors); the reason on request, as problem details.
    const down = await post();
    expect(down.status).to.equal(503);
    expect(down.body).to.equal('');
    expect(down.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    const explained = await post(PROBLEM_ACCEPT);
    expect(explained.status).to.equal(503);
    expect(explained.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(JSON.parse(explained.body).detail).to.equal('the database is unavailable; try again later');
    const sender = senderClient(server.pki, server.ports.grpcSender);
    try {
      const capsule = capsuleFor(server.pki.clients.ecP256);
      await grpcCreateCapsule(sender, {
        capsule: protoCapsule(capsule),
      }).then(
        () => expect.fail('the call succeeded while the database was down'),
        (error: ServiceError) => {
          expect(status[error.code]).to.equal('UNAVAILABLE');
          expect(error.details).to.equal('the database is unavailable; try again later');
        },
      );
    } finally {
      sender.close();
    }
    expect(await readiness(server.app.managementPort ?? 0)).to.equal(503);

    await mariadb.start();
    expect(await readiness(server.app.managementPort ?? 0)).to.equal(200);
    expect((await post()).status).to.equal(201);
    const fetched = await https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${storedId}`,
      client: server.pki.clients.ecP256,
    });
    expect(fetched.status).to.equal(200);
  });

  it('answers 503 / UNAVAILABLE within the query timeout and readiness 503 within a second while the database hangs, and stores nothing it answered 503 for', async () => {
    expect((await post()).status).to.equal(201);
    const stored = await storedCapsules();
    mariadb.freeze();
    try {
      // Each bound: the configured timeout, plus slack for a loaded machine; a hung request would wait forever.
      const rest = await timed(() => post(PROBLEM_ACCEPT));
      expect(rest.result.status).to.equal(503);
      expect(JSON.parse(rest.result.body).detail).to.equal('the database is unavailable; try again later');
      expect(rest.ms).to.be.below(QUERY_TIMEOUT_MS + 1500);

      const sender = senderClient(server.pki, server.ports.grpcSender);
      try {
        const grpc = await timed(() =>
          grpcCreateCapsule(sender, { capsule: protoCapsule(capsuleFor(server.pki.clients.ecP256)) }).then(
            () => 'OK',
            (error: ServiceError) => status[error.code],
          ),
        );
        expect(grpc.result).to.equal('UNAVAILABLE');
        expect(grpc.ms).to.be.below(QUERY_TIMEOUT_MS + 1500);
      } finally {
        sender.close();
      }

      const ready = await timed(() => readiness(server.app.managementPort ?? 0));
      expect(ready.result).to.equal(503);
      expect(ready.ms).to.be.below(2500);
    } finally {
      mariadb.thaw();
    }
    const deadline = Date.now() + 15_000;
    while ((await readiness(server.app.managementPort ?? 0)) !== 200) {
      expect(Date.now(), 'ready again after the database answers').to.be.below(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The statements the frozen server had received ran when it resumed; without their COMMIT they stored nothing.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await storedCapsules(), 'capsules stored although their creation was answered 503').to.equal(stored);
    expect((await post()).status).to.equal(201);
  });

  describe('a GetKeyShare whose nonce is consumed while the database freezes', () => {
    let driver: ShareDriver;
    const thawed: Array<Promise<void>> = [];
    const freezes: Array<{ statement: RegExp; thawAfterMs: number }> = [];
    const DELETE_NONCE = /^delete from `key_share_nonces`/i;
    const COMMIT = /^COMMIT/i;

    before(() => {
      driver = REST_SHARES.driver(server);
      // Knex announces each statement right before it sends it: the database stops before it can answer it.
      server.app.database.on('query', ({ sql }: { sql: string }) => {
        const next = freezes[0];
        if (next && next.statement.test(sql)) {
          freezes.shift();
          mariadb.freeze();
          thawed.push(new Promise((resolve) => setTimeout(resolve, next.thawAfterMs)).then(() => mariadb.thaw()));
        }
      });
    });
    afterEach(async () => {
      freezes.length = 0;
      await Promise.all(thawed.splice(0));
    });
    after(() => driver.close());

    /** A share with one nonce, and the ticket and certificate that fetch it once. */
    const shareWithTicket = async () => {
      const person = server.pki.auth.rsa2048;
      const issued = await issueShare(driver, recipientOf(person));
      const ticket = createAuthTicket({ urls: [issued.url], signer: person });
      return { issued, headers: ticketHeaders(ticket.presentationFor(0), oneLinePem(person)) };
    };

    it('keeps the nonce usable when the request was answered 503 (its DELETE was answered after the deadline)', async () => {
      const { issued, headers } = await shareWithTicket();
      freezeAt(DELETE_NONCE, QUERY_TIMEOUT_MS + 1000);
      const refused = await restGet(server, issued.shareId, headers);
      expect(refused.status).to.equal(503);
      await Promise.all(thawed);
      // The resumed server ran the DELETE, then the ROLLBACK: the user's signed ticket still works, once.
      const fetched = await restGet(server, issued.shareId, headers);
      expect(fetched.status, fetched.body).to.equal(200);
      expect(Buffer.from(JSON.parse(fetched.body).share, 'base64').equals(issued.share)).to.equal(true);
      expect((await restGet(server, issued.shareId, headers)).status).to.equal(404);
    });

    it('answers by the COMMIT of the nonce when that COMMIT is answered after the deadline: the share, once', async () => {
      const { issued, headers } = await shareWithTicket();
      // The DELETE is answered late (0.6 s), and the COMMIT sent in time is answered 0.6 s later: past the deadline.
      freezeAt(DELETE_NONCE, 600);
      freezeAt(COMMIT, 600);
      const fetched = await timed(() => restGet(server, issued.shareId, headers));
      expect(fetched.result.status, fetched.result.body).to.equal(200);
      expect(fetched.ms, 'answered after the deadline').to.be.above(QUERY_TIMEOUT_MS);
      expect((await restGet(server, issued.shareId, headers)).status).to.equal(404);
    });

    it('leaves every nonce of a burst either used by a request answered 200 or usable after a 503', async () => {
      const tickets = await Promise.all(Array.from({ length: 12 }, () => shareWithTicket()));
      // The freeze lands in the middle of the burst, with requests at every stage (verifying, reading, deleting).
      freezeAt(DELETE_NONCE, QUERY_TIMEOUT_MS + 1000);
      const answers = await Promise.all(
        tickets.map(async ({ issued, headers }, i) => {
          await new Promise((resolve) => setTimeout(resolve, 5 * i));
          return (await restGet(server, issued.shareId, headers)).status;
        }),
      );
      await Promise.all(thawed);
      expect(answers, 'every answer is 200 or 503').to.satisfy((all: number[]) =>
        all.every((s) => s === 200 || s === 503),
      );
      expect(answers, 'the freeze answered some request 503').to.include(503);
      const again = await Promise.all(
        tickets.map(async ({ issued, headers }) => (await restGet(server, issued.shareId, headers)).status),
      );
      // A 503 left the nonce for the user's retry; a 200 used it.
      expect(again).to.deep.equal(answers.map((status) => (status === 503 ? 200 : 404)));
    });

    const freezeAt = (statement: RegExp, thawAfterMs: number): void => {
      freezes.push({ statement, thawAfterMs });
    };
  });
});
