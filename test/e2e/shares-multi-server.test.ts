// test-pki.ts (loaded by test-server.ts) loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createAuthTicket, oneLinePem, type AuthTicket } from '../support/auth-ticket-builder.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  fetchShare,
  GRPC_SHARES,
  newNonce,
  REST_SHARES,
  restGet,
  storeShare,
  ticketHeaders,
  type ShareDriver,
} from '../support/share-drivers.js';
import { expectRefused } from '../support/transport-outcome.js';
import { presentation, recipientOf, ticketUrl } from './shares-helpers.js';

/**
 * Scheme SC07 (README "The shares server"): the sender splits the key n-of-n by XOR over three shares
 * servers run by different organizations; the recipient signs ONE ticket naming all three and shows each server
 * only its own URL. Three whole servers, each with its own base URL and its own MariaDB database.
 */
const BASE_URLS = ['https://css-1.test', 'https://css-2.test:8443', 'https://css-3.test/base'] as const;

const xor = (...buffers: Buffer[]): Buffer => {
  const result = Buffer.alloc(32);
  for (const buffer of buffers) {
    for (let i = 0; i < result.length; i++) {
      result[i] = (result[i] ?? 0) ^ (buffer[i] ?? 0);
    }
  }
  return result;
};

interface Split {
  readonly key: Buffer;
  readonly shares: readonly Buffer[];
  readonly shareIds: readonly string[];
  readonly ticket: AuthTicket;
}

describe('three shares servers and one ticket: a key split n-of-n by XOR (scheme SC07)', () => {
  let servers: TestServer[] = [];
  /** Server 1 and 3 are driven over REST, server 2 over gRPC. */
  let drivers: ShareDriver[] = [];

  before(async () => {
    servers = await Promise.all(BASE_URLS.map((base) => startTestServer({ shares: { baseUrls: [base] } })));
    drivers = servers.map((server, index) => (index === 1 ? GRPC_SHARES : REST_SHARES).driver(server));
  });
  after(async () => {
    drivers.forEach((driver) => driver.close());
    await Promise.all(servers.map((server) => server.close()));
  });

  const server = (index: number): TestServer => servers[index] as TestServer;
  const driver = (index: number): ShareDriver => drivers[index] as ShareDriver;
  const signer = () => server(0).pki.auth.rsa2048;
  const x5c = () => oneLinePem(signer());

  /** The sender's part (split and store) and the recipient's (a nonce from each server, one signature). */
  async function split(): Promise<Split> {
    const key = randomBytes(32);
    const others = [randomBytes(32), randomBytes(32)];
    const shares = [xor(key, ...others), ...others];
    const person = recipientOf(signer());
    const shareIds = await Promise.all(shares.map((share, i) => storeShare(driver(i), share, person)));
    const nonces = await Promise.all(shareIds.map((shareId, i) => newNonce(driver(i), shareId)));
    const ticket = createAuthTicket({
      signer: signer(),
      urls: shareIds.map((shareId, i) => ticketUrl(shareId, nonces[i] ?? '', BASE_URLS[i])),
    });
    return { key, shares, shareIds, ticket };
  }

  const shareIdOf = (split: Split, index: number): string => split.shareIds[index] ?? '';

  it('gives each server only its own presentation, gets each share back, and their XOR is the key', async () => {
    const recovered = await split();
    const fetched = await Promise.all(
      recovered.shareIds.map((shareId, i) =>
        fetchShare(driver(i), shareId, recovered.ticket.presentationFor(i), x5c()),
      ),
    );
    fetched.forEach(({ share, recipient: owner }, i) => {
      expect(share.equals(recovered.shares[i] ?? Buffer.alloc(0)), `share ${i + 1}`).to.equal(true);
      expect(owner).to.equal(recipientOf(signer()));
    });
    expect(xor(...fetched.map(({ share }) => share)).equals(recovered.key)).to.equal(true);
    // Each share lives in its own server's database only.
    for (const [i, shareId] of recovered.shareIds.entries()) {
      for (const [j, other] of servers.entries()) {
        const rows = await other.app.database('key_shares').where({ share_id: shareId });
        expect(rows, `share ${i + 1} in the database of server ${j + 1}`).to.have.length(i === j ? 1 : 0);
      }
    }
  });

  it("refuses server 1's presentation at server 2, under server 2's share id and under server 1's", async () => {
    const replay = await split();
    const forFirst = replay.ticket.presentationFor(0);
    for (const shareId of [shareIdOf(replay, 1), shareIdOf(replay, 0)]) {
      const rest = await restGet(server(1), shareId, ticketHeaders(forFirst, x5c()));
      expect(rest.status, rest.body).to.equal(401);
      expect(JSON.parse(rest.body).detail).to.match(/another server/);
      const grpc = expectRefused(await driver(1).get(shareId, forFirst, x5c()), 'unauthenticated');
      expect(grpc.detail).to.match(/another server/);
    }
    // The refusals used up nothing: server 2 still serves its own presentation, and server 1 its own.
    const second = await fetchShare(driver(1), shareIdOf(replay, 1), replay.ticket.presentationFor(1), x5c());
    expect(second.share.equals(replay.shares[1] ?? Buffer.alloc(0))).to.equal(true);
    const first = await fetchShare(driver(0), shareIdOf(replay, 0), forFirst, x5c());
    expect(first.share.equals(replay.shares[0] ?? Buffer.alloc(0))).to.equal(true);
  });

  it("consumes each server's nonce: presenting the same ticket again is 404 everywhere", async () => {
    const once = await split();
    for (const [i, shareId] of once.shareIds.entries()) {
      await fetchShare(driver(i), shareId, once.ticket.presentationFor(i), x5c());
    }
    for (const [i, shareId] of once.shareIds.entries()) {
      const again = await restGet(server(i), shareId, ticketHeaders(once.ticket.presentationFor(i), x5c()));
      expect(again.status, `server ${i + 1}: ${again.body}`).to.equal(404);
      expect(JSON.parse(again.body).detail).to.equal('key share not found');
    }
    expectRefused(await driver(1).get(shareIdOf(once, 1), once.ticket.presentationFor(1), x5c()), 'not-found');
  });

  it("refuses a presentation that discloses the other servers' URLs as well", async () => {
    const all = await split();
    const everything = presentation(all.ticket.jwt, [all.ticket.audDisclosure, ...all.ticket.urlDisclosures]);
    for (const [i, shareId] of all.shareIds.entries()) {
      const res = await restGet(server(i), shareId, ticketHeaders(everything, x5c()));
      expect(res.status, `server ${i + 1}: ${res.body}`).to.equal(401);
    }
  });

  it('holds each server to its exact base URL: the port of server 2 and the base path of server 3', async () => {
    const exact = await split();
    const person = signer();
    const nonce2 = await newNonce(driver(1), shareIdOf(exact, 1));
    const nonce3 = await newNonce(driver(2), shareIdOf(exact, 2));
    const wrong = createAuthTicket({
      signer: person,
      urls: [
        ticketUrl(shareIdOf(exact, 1), nonce2, 'https://css-2.test'),
        ticketUrl(shareIdOf(exact, 2), nonce3, 'https://css-3.test'),
      ],
    });
    const atSecond = await restGet(server(1), shareIdOf(exact, 1), ticketHeaders(wrong.presentationFor(0), x5c()));
    const atThird = await restGet(server(2), shareIdOf(exact, 2), ticketHeaders(wrong.presentationFor(1), x5c()));
    expect([atSecond.status, atThird.status]).to.deep.equal([401, 401]);
    // The same nonces under the exact base URLs work.
    const right = createAuthTicket({
      signer: person,
      urls: [
        ticketUrl(shareIdOf(exact, 1), nonce2, BASE_URLS[1]),
        ticketUrl(shareIdOf(exact, 2), nonce3, BASE_URLS[2]),
      ],
    });
    const second = await fetchShare(driver(1), shareIdOf(exact, 1), right.presentationFor(0), x5c());
    const third = await fetchShare(driver(2), shareIdOf(exact, 2), right.presentationFor(1), x5c());
    expect(second.share.equals(exact.shares[1] ?? Buffer.alloc(0))).to.equal(true);
    expect(third.share.equals(exact.shares[2] ?? Buffer.alloc(0))).to.equal(true);
  });
});
