// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { AuthName } from '../support/test-pki.js';
import { base64urlDer, createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import { startTestServer, TEST_SHARES_BASE_URL, type HttpResponse, type TestServer } from '../support/test-server.js';
import { restCreateShare } from '../support/rest-round-trip.js';
import { REST_SHARES, restGet, restNonce, ticketHeaders, type ShareDriver } from '../support/share-drivers.js';
import { issueShare, recipientOf, secretsOf, ticketUrl, type IssuedShare } from './shares-helpers.js';

/**
 * What only the REST wire of the shares server has: the ticket's two header names, the create's Location, the
 * bodies a nonce request may carry, missing headers, and forwarding headers. The behaviour both wires share is in
 * shares.test.ts, run over each.
 */
const expectNoLeak = (res: HttpResponse, secrets: readonly string[]): void => {
  for (const secret of secrets) {
    expect(res.body, `the answer contains ${secret}`).to.not.include(secret);
  }
};

describe('shares server (CSS) over REST only (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let driver: ShareDriver;

  before(async () => {
    server = await startTestServer();
    driver = REST_SHARES.driver(server);
  });
  after(() => server.close());

  const issueFor = (name: AuthName = 'rsa2048'): Promise<IssuedShare> =>
    issueShare(driver, recipientOf(server.pki.auth[name]));

  const ticketFor = (issued: IssuedShare, name: AuthName = 'rsa2048', url = issued.url): string =>
    createAuthTicket({ signer: server.pki.auth[name], urls: [url] }).presentationFor(0);

  const x5c = (): string => oneLinePem(server.pki.auth.rsa2048);

  const expectShare = (res: HttpResponse, issued: IssuedShare): void => {
    expect(res.status, res.body).to.equal(200);
    expect(res.body).to.equal(JSON.stringify({ share: issued.share.toString('base64'), recipient: issued.recipient }));
  };

  describe('headers and bodies', () => {
    it('accepts the ticket under the 1.2 header name x-cdoc2-auth-token', async () => {
      const issued = await issueFor('ecP256');
      const res = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-token': ticketFor(issued, 'ecP256'),
        'x-cdoc2-auth-x5c': base64urlDer(server.pki.auth.ecP256),
      });
      expectShare(res, issued);
    });

    it('accepts both header names carrying the same ticket, and answers 400 when they differ', async () => {
      const issued = await issueFor();
      const ticket = ticketFor(issued);
      const differ = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-ticket': ticket,
        'x-cdoc2-auth-token': ticketFor(issued),
        'x-cdoc2-auth-x5c': x5c(),
      });
      expect(differ.status).to.equal(400);
      expectNoLeak(differ, secretsOf(issued));
      const same = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-ticket': ticket,
        'x-cdoc2-auth-token': ticket,
        'x-cdoc2-auth-x5c': x5c(),
      });
      expectShare(same, issued);
    });

    it('answers the create with 201, an empty body and Location /key-shares/<32 hex>', async () => {
      const res = await restCreateShare(server.pki, server.sharePorts.rest, randomBytes(32), 'etsi/PNOEE-48010010101');
      expect(res.status).to.equal(201);
      expect(res.headers['location']).to.match(/^\/key-shares\/[0-9a-f]{32}$/);
      expect(res.body).to.equal('');
    });

    it('issues a fresh 16-character base64url nonce for no body, an empty body, {} and null', async () => {
      const { shareId } = await issueFor();
      // No body and no Content-Type; then `application/json` with an empty body, `{}`, and the `null` that the
      // official Java client sends (createNonce(shareId, null)).
      const answers = [
        await restNonce(server, shareId),
        await restNonce(server, shareId, ''),
        await restNonce(server, shareId, '{}'),
        await restNonce(server, shareId, 'null'),
      ];
      for (const res of answers) {
        expect(res.status, res.body).to.equal(200);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(JSON.parse(res.body)).to.have.all.keys('nonce');
        expect(JSON.parse(res.body).nonce).to.match(/^[A-Za-z0-9_-]{16}$/);
      }
      expect(new Set(answers.map((res) => (JSON.parse(res.body) as { nonce: string }).nonce)).size).to.equal(
        answers.length,
      );
    });

    it('ignores the members of an object nonce body, and answers 400 to a body that is not an object', async () => {
      const { shareId } = await issueFor();
      const res = await restNonce(server, shareId, '{"nonce":"mine"}');
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body).nonce).to.not.equal('mine');
      for (const body of ['[]', '"x"', '1', 'true']) {
        expect((await restNonce(server, shareId, body)).status, body).to.equal(400);
      }
    });

    it('answers 400 when x-cdoc2-auth-x5c is missing', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, { 'x-cdoc2-auth-ticket': ticketFor(issued) });
      expect(res.status).to.equal(400);
      expect(JSON.parse(res.body).detail).to.match(/x-cdoc2-auth-x5c/);
      expectNoLeak(res, secretsOf(issued));
    });

    it('answers 400 when neither ticket header is sent', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, { 'x-cdoc2-auth-x5c': x5c() });
      expect(res.status).to.equal(400);
      expectNoLeak(res, secretsOf(issued));
    });

    it('answers 400 to an empty x-cdoc2-auth-token', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, { 'x-cdoc2-auth-token': '', 'x-cdoc2-auth-x5c': x5c() });
      expect(res.status).to.equal(400);
    });
  });

  describe('forwarding headers', () => {
    const forwardedTo = (host: string, proto = 'https'): Record<string, string> => ({
      'x-forwarded-host': host,
      'x-forwarded-proto': proto,
      'x-forwarded-port': host.includes(':') ? (host.split(':')[1] ?? '') : '443',
      forwarded: `for=192.0.2.1;host=${host};proto=${proto}`,
    });

    for (const [base, host] of [
      ['https://css-evil.test', 'css-evil.test'],
      [`${TEST_SHARES_BASE_URL}:8443`, 'css.test:8443'],
    ] as const) {
      it(`do not make a ticket for ${base} pass when they name ${host}`, async () => {
        const issued = await issueFor();
        const url = ticketUrl(issued.shareId, issued.nonce, base);
        const res = await restGet(server, issued.shareId, {
          ...ticketHeaders(ticketFor(issued, 'rsa2048', url), x5c()),
          ...forwardedTo(host),
        });
        expect(res.status).to.equal(401);
        expectNoLeak(res, secretsOf(issued));
      });
    }

    it('do not make a ticket for http://css.test pass with X-Forwarded-Proto: http', async () => {
      const issued = await issueFor();
      const url = ticketUrl(issued.shareId, issued.nonce, 'http://css.test');
      const res = await restGet(server, issued.shareId, {
        ...ticketHeaders(ticketFor(issued, 'rsa2048', url), x5c()),
        ...forwardedTo('css.test', 'http'),
      });
      expect(res.status).to.equal(401);
    });

    it('do not break a valid ticket, whether they name this server or another one', async () => {
      for (const headers of [forwardedTo('css.test'), forwardedTo('elsewhere.test', 'http')]) {
        const issued = await issueFor();
        const res = await restGet(server, issued.shareId, { ...ticketHeaders(ticketFor(issued), x5c()), ...headers });
        expectShare(res, issued);
      }
    });
  });
});
