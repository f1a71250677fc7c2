// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { AUTH_KEYS, type AuthName } from '../support/test-pki.js';
import { base64urlDer, createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { fetchShare, newNonce, SHARE_TRANSPORTS, type ShareDriver } from '../support/share-drivers.js';
import { expectNoLeak, expectOk, expectRefused, type Refused } from '../support/transport-outcome.js';
import {
  issueShare,
  MAX_LIVE_NONCES,
  NONCE_TTL_MS,
  recipientOf,
  REFUSAL_CASES,
  secretsOf,
  SHARES_EXPIRY_DEFAULT_MS,
  ticketUrl,
  unknownShareId,
  type IssuedShare,
} from './shares-helpers.js';

/**
 * The shares server's (CSS) behaviour, one case list run over every transport (README "The shares server"): a case
 * cannot exist for REST and be forgotten for gRPC. What only one wire has (header names, bodies of the nonce
 * request, forwarding headers; a missing protobuf message) stays in shares-rest.test.ts and shares-grpc.test.ts.
 */
const DAY = 86_400_000;
const ALG: Readonly<Record<AuthName, string>> = {
  rsa2048: 'RS256',
  rsa4096: 'RS256',
  ecP256: 'ES256',
  ecP384: 'ES384',
};
const NONCE = /^[A-Za-z0-9_-]{16}$/;

describe('shares server (CSS) over both transports (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  for (const [index, transport] of SHARE_TRANSPORTS.entries()) {
    describe(transport.name, () => {
      let driver: ShareDriver;
      /** The next transport in the list: shares stored over one must be served over the other. */
      let other: ShareDriver;
      before(() => {
        driver = transport.driver(server);
        other = (SHARE_TRANSPORTS[(index + 1) % SHARE_TRANSPORTS.length] ?? transport).driver(server);
      });
      after(() => {
        driver.close();
        other.close();
      });

      const issueFor = (name: AuthName = 'rsa2048', bytes = 32): Promise<IssuedShare> =>
        issueShare(driver, recipientOf(server.pki.auth[name]), { bytes });

      const ticketFor = (issued: IssuedShare, name: AuthName = 'rsa2048', url = issued.url): string =>
        createAuthTicket({ signer: server.pki.auth[name], urls: [url] }).presentationFor(0);

      const x5cOf = (name: AuthName = 'rsa2048'): string => oneLinePem(server.pki.auth[name]);

      const expectShare = async (issued: IssuedShare, ticket = ticketFor(issued), x5c = x5cOf()): Promise<void> => {
        const fetched = await fetchShare(driver, issued.shareId, ticket, x5c);
        expect(fetched).to.deep.equal({ share: issued.share, recipient: issued.recipient });
      };

      /** The refusal of a share that does not exist, asked for with an otherwise valid ticket. */
      const unknownShare = async (): Promise<Refused> => {
        const shareId = unknownShareId();
        const url = ticketUrl(shareId, randomBytes(12).toString('base64url'));
        const ticket = createAuthTicket({ signer: server.pki.auth.rsa2048, urls: [url] }).presentationFor(0);
        return expectRefused(await driver.get(shareId, ticket, x5cOf()), 'not-found');
      };

      describe('storing, nonces and fetching', () => {
        for (const name of Object.keys(AUTH_KEYS) as AuthName[]) {
          for (const [encoding, encode] of [
            ['one-line PEM', oneLinePem],
            ['base64url DER', base64urlDer],
          ] as const) {
            it(`returns the share for an ${ALG[name]} ticket of the ${name} certificate sent as ${encoding}`, async () => {
              const issued = await issueFor(name);
              await expectShare(issued, ticketFor(issued, name), encode(server.pki.auth[name]));
            });
          }
        }

        it('returns shares of 32, 64 and 128 bytes unchanged', async () => {
          for (const bytes of [32, 64, 128]) {
            await expectShare(await issueFor('rsa2048', bytes));
          }
        });

        it('answers a create with a 32-hex share id and the default expiry, not adjusted', async () => {
          const created = expectOk(await driver.create(randomBytes(32), 'etsi/PNOEE-48010010101'));
          expect(created.shareId).to.match(/^[0-9a-f]{32}$/);
          expect(created.expiryTimeAdjusted).to.equal(false);
          expect(created.expiryTime.getTime()).to.equal(server.clock.now().getTime() + SHARES_EXPIRY_DEFAULT_MS);
        });

        it('issues fresh 16-character base64url nonces', async () => {
          const issued = await issueFor();
          const second = await newNonce(driver, issued.shareId);
          expect(issued.nonce).to.match(NONCE);
          expect(second).to.match(NONCE);
          expect(second).to.not.equal(issued.nonce);
        });

        it(`serves a share stored, and given a nonce, over ${transport.name === 'REST' ? 'gRPC' : 'REST'}`, async () => {
          const issued = await issueShare(other, recipientOf(server.pki.auth.ecP384));
          await expectShare(issued, ticketFor(issued, 'ecP384'), x5cOf('ecP384'));
        });

        it('consumes the nonce: the same ticket a second time is not found, identical to an unknown share', async () => {
          const issued = await issueFor();
          const ticket = ticketFor(issued);
          await expectShare(issued, ticket);
          const again = expectRefused(await driver.get(issued.shareId, ticket, x5cOf()), 'not-found');
          expect(again.comparable).to.deep.equal((await unknownShare()).comparable);
          expectNoLeak(again, secretsOf(issued));
        });

        it('keeps several nonces of one share live: the 2nd of three works, then the 1st and 3rd still do', async () => {
          const issued = await issueFor();
          const nonces = [issued.nonce, await newNonce(driver, issued.shareId), await newNonce(driver, issued.shareId)];
          expect(new Set(nonces).size).to.equal(3);
          for (const nonce of [nonces[1], nonces[0], nonces[2]]) {
            await expectShare(issued, ticketFor(issued, 'rsa2048', ticketUrl(issued.shareId, nonce ?? '')));
          }
        });

        it(`refuses the ${MAX_LIVE_NONCES + 1}th live nonce as too many, and issues again once one is used or all expire`, async () => {
          const issued = await issueFor();
          for (let i = 1; i < MAX_LIVE_NONCES; i++) {
            await newNonce(driver, issued.shareId);
          }
          const refused = expectRefused(await driver.createNonce(issued.shareId), 'too-many');
          expect(refused.detail).to.match(new RegExp(`${MAX_LIVE_NONCES} unused nonces`));
          expectNoLeak(refused, secretsOf(issued));
          // Using one frees its place.
          await expectShare(issued);
          expect(await newNonce(driver, issued.shareId)).to.match(NONCE);
          expectRefused(await driver.createNonce(issued.shareId), 'too-many');
          // Expired nonces do not count.
          server.clock.advance(NONCE_TTL_MS);
          try {
            expect(await newNonce(driver, issued.shareId)).to.match(NONCE);
          } finally {
            server.clock.advance(-NONCE_TTL_MS);
          }
        });

        it('answers not found to a nonce request for an unknown share, a bad request to a share id of bad length', async () => {
          const unknown = expectRefused(await driver.createNonce(unknownShareId()), 'not-found');
          expect(unknown.detail).to.equal('key share not found');
          expectRefused(await driver.createNonce('f'.repeat(17)), 'bad-request');
        });

        it('accepts a nonce one millisecond before its lifetime ends', async () => {
          const issued = await issueFor();
          server.clock.advance(NONCE_TTL_MS - 1);
          try {
            await expectShare(issued);
          } finally {
            server.clock.advance(-(NONCE_TTL_MS - 1));
          }
        });

        it('accepts a ticket URL with the default port written out and the host in upper case', async () => {
          const issued = await issueFor();
          await expectShare(
            issued,
            ticketFor(issued, 'rsa2048', ticketUrl(issued.shareId, issued.nonce, 'https://CSS.TEST:443')),
          );
        });

        it('answers a bad request to a create with a 31-byte share or a recipient without etsi/', async () => {
          const short = expectRefused(await driver.create(randomBytes(31), 'etsi/PNOEE-48010010101'), 'bad-request');
          expect(short.detail).to.match(/32 to 128 bytes/);
          expectRefused(await driver.create(randomBytes(32), 'PNOEE-48010010101'), 'bad-request');
        });
      });

      describe('races and expiry', () => {
        it('serves a ticket presented five times at once exactly once; the others are not found', async () => {
          const issued = await issueFor();
          const ticket = ticketFor(issued);
          const outcomes = await Promise.all(
            Array.from({ length: 5 }, () => driver.get(issued.shareId, ticket, x5cOf())),
          );
          const served = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.value] : []));
          expect(served).to.deep.equal([{ share: issued.share, recipient: issued.recipient }]);
          expect(outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.refusal]))).to.deep.equal(
            Array(4).fill('not-found'),
          );
        });

        it(`issues exactly ${MAX_LIVE_NONCES} nonces to ${MAX_LIVE_NONCES + 8} concurrent requests for one share`, async () => {
          const { shareId } = expectOk(await driver.create(randomBytes(32), recipientOf(server.pki.auth.rsa2048)));
          const outcomes = await Promise.all(
            Array.from({ length: MAX_LIVE_NONCES + 8 }, () => driver.createNonce(shareId)),
          );
          expect(outcomes.filter((outcome) => outcome.ok)).to.have.length(MAX_LIVE_NONCES);
          expect(outcomes.filter((outcome) => !outcome.ok && outcome.refusal === 'too-many')).to.have.length(8);
        });

        it('answers not found to a get and a nonce request once the share has expired, as for an unknown share', async () => {
          const signer = server.pki.auth.rsa2048;
          const share = randomBytes(32);
          const expiry = new Date(server.clock.now().getTime() + DAY);
          const created = expectOk(await driver.create(share, recipientOf(signer), expiry));
          expect(created.expiryTime.toISOString()).to.equal(expiry.toISOString());
          expect(created.expiryTimeAdjusted).to.equal(false);
          const ticketWithNewNonce = async (): Promise<string> =>
            createAuthTicket({
              signer,
              urls: [ticketUrl(created.shareId, await newNonce(driver, created.shareId))],
            }).presentationFor(0);
          // A minute before the share expires (its nonces are young: only the share's expiry can refuse them).
          server.clock.advance(DAY - 60_000);
          try {
            const [lastMinute, tooLate] = [await ticketWithNewNonce(), await ticketWithNewNonce()];
            expect((await fetchShare(driver, created.shareId, lastMinute, x5cOf())).share).to.deep.equal(share);
            server.clock.advance(60_000);
            const expired = expectRefused(await driver.get(created.shareId, tooLate, x5cOf()), 'not-found');
            expect(expired.comparable).to.deep.equal((await unknownShare()).comparable);
            expect(expired.detail).to.equal('key share not found');
            expectRefused(await driver.createNonce(created.shareId), 'not-found');
          } finally {
            server.clock.advance(-DAY);
          }
        });
      });

      describe('refusals', () => {
        for (const refusal of REFUSAL_CASES) {
          it(`refuses ${refusal.name} as ${refusal.refusal}`, async () => {
            const attempt = await refusal.prepare({ server, driver });
            let outcome;
            try {
              outcome = await driver.get(attempt.shareId, attempt.ticket, attempt.x5c);
            } finally {
              attempt.restore?.();
            }
            const refused = expectRefused(outcome, refusal.refusal);
            expect(refused.detail).to.match(refusal.detail);
            expectNoLeak(refused, attempt.secrets);
            if (refusal.refusal === 'not-found') {
              expect(refused.comparable).to.deep.equal((await unknownShare()).comparable);
            }
          });
        }

        it('answers identical not founds for an unknown share, a used nonce and a share of someone else', async () => {
          const used = await issueFor();
          const ticket = ticketFor(used);
          await expectShare(used, ticket);
          const replayed = expectRefused(await driver.get(used.shareId, ticket, x5cOf()), 'not-found');
          const othersShare = await issueFor('rsa4096');
          const notYours = expectRefused(
            await driver.get(othersShare.shareId, ticketFor(othersShare, 'rsa2048'), x5cOf()),
            'not-found',
          );
          const unknown = await unknownShare();
          expect(replayed.comparable).to.deep.equal(unknown.comparable);
          expect(notYours.comparable).to.deep.equal(unknown.comparable);
          expect(unknown.detail).to.equal('key share not found');
        });
      });
    });
  }
});
