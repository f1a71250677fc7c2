// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { AUTH_KEYS, type AuthName } from '../support/test-pki.js';
import { base64urlDer, createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import {
  comparableAnswer,
  https,
  PROBLEM_ACCEPT,
  startTestServer,
  TEST_SHARES_BASE_URL,
  type HttpResponse,
  type TestServer,
} from '../support/test-server.js';
import {
  HTTP_STATUS,
  issueShare,
  JSON_HEADERS,
  MAX_LIVE_NONCES,
  NONCE_TTL_MS,
  recipientOf,
  REFUSAL_CASES,
  restDriver,
  restGet,
  secretsOf,
  ticketHeaders,
  ticketUrl,
  unknownShareId,
  type IssuedShare,
  type ShareDriver,
} from './shares-helpers.js';

const DAY = 86_400_000;
const ALG: Readonly<Record<AuthName, string>> = {
  rsa2048: 'RS256',
  rsa4096: 'RS256',
  ecP256: 'ES256',
  ecP384: 'ES384',
};

const expectNoLeak = (res: HttpResponse, secrets: readonly string[]): void => {
  for (const secret of secrets) {
    expect(res.body, `the answer contains ${secret}`).to.not.include(secret);
  }
};

describe('shares server (CSS) over REST (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let driver: ShareDriver;

  before(async () => {
    server = await startTestServer();
    driver = restDriver(server);
  });
  after(() => server.close());

  const nonceRequest = (shareId: string, body?: string): Promise<HttpResponse> =>
    https(server.pki, {
      port: server.sharePorts.rest,
      method: 'POST',
      path: `/key-shares/${shareId}/nonce`,
      ...(body === undefined ? { headers: PROBLEM_ACCEPT } : { headers: { ...PROBLEM_ACCEPT, ...JSON_HEADERS }, body }),
    });

  const issueFor = (name: AuthName = 'rsa2048', bytes = 32): Promise<IssuedShare> =>
    issueShare(driver, recipientOf(server.pki.auth[name]), { bytes });

  const ticketFor = (issued: IssuedShare, name: AuthName = 'rsa2048', url = issued.url): string =>
    createAuthTicket({ signer: server.pki.auth[name], urls: [url] }).presentationFor(0);

  const expectShare = (res: HttpResponse, issued: IssuedShare): void => {
    expect(res.status, res.body).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    // Key material must not be kept by any cache on the way.
    expect(res.headers['cache-control']).to.equal('no-store');
    // Key order as the OpenAPI lists it, standard padded base64.
    expect(res.body).to.equal(JSON.stringify({ share: issued.share.toString('base64'), recipient: issued.recipient }));
  };

  /** The 404 of a share that does not exist, asked for with an otherwise valid ticket. */
  const unknownShare404 = async (): Promise<HttpResponse> => {
    const shareId = unknownShareId();
    const ticket = createAuthTicket({
      signer: server.pki.auth.rsa2048,
      urls: [ticketUrl(shareId, randomBytes(12).toString('base64url'))],
    });
    const res = await restGet(
      server,
      shareId,
      ticketHeaders(ticket.presentationFor(0), oneLinePem(server.pki.auth.rsa2048)),
    );
    expect(res.status).to.equal(404);
    return res;
  };

  describe('storing, nonces and fetching', () => {
    for (const name of Object.keys(AUTH_KEYS) as AuthName[]) {
      for (const [encoding, x5cOf] of [
        ['one-line PEM', oneLinePem],
        ['base64url DER', base64urlDer],
      ] as const) {
        it(`returns the share for an ${ALG[name]} ticket of the ${name} certificate sent as ${encoding}`, async () => {
          const issued = await issueFor(name);
          const res = await restGet(
            server,
            issued.shareId,
            ticketHeaders(ticketFor(issued, name), x5cOf(server.pki.auth[name])),
          );
          expectShare(res, issued);
        });
      }
    }

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
      const other = ticketFor(issued);
      const x5c = oneLinePem(server.pki.auth.rsa2048);
      const differ = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-ticket': ticket,
        'x-cdoc2-auth-token': other,
        'x-cdoc2-auth-x5c': x5c,
      });
      expect(differ.status).to.equal(400);
      expectNoLeak(differ, secretsOf(issued));
      const same = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-ticket': ticket,
        'x-cdoc2-auth-token': ticket,
        'x-cdoc2-auth-x5c': x5c,
      });
      expectShare(same, issued);
    });

    it('returns shares of 32, 64 and 128 bytes unchanged', async () => {
      for (const bytes of [32, 64, 128]) {
        const issued = await issueFor('rsa2048', bytes);
        expectShare(
          await restGet(server, issued.shareId, ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048))),
          issued,
        );
      }
    });

    it('answers the create with 201, an empty body and Location /key-shares/<32 hex>', async () => {
      const res = await https(server.pki, {
        port: server.sharePorts.rest,
        method: 'POST',
        path: '/key-shares',
        headers: JSON_HEADERS,
        body: JSON.stringify({ share: randomBytes(32).toString('base64'), recipient: 'etsi/PNOEE-48010010101' }),
      });
      expect(res.status).to.equal(201);
      expect(res.headers['location']).to.match(/^\/key-shares\/[0-9a-f]{32}$/);
      expect(res.body).to.equal('');
    });

    it('issues a fresh 16-character base64url nonce for no body, an empty body, {} and null', async () => {
      const { shareId } = await issueFor();
      // No body and no Content-Type; then `application/json` with an empty body, `{}`, and the `null` that the
      // official Java client sends (createNonce(shareId, null)).
      const answers = [
        await nonceRequest(shareId),
        await nonceRequest(shareId, ''),
        await nonceRequest(shareId, '{}'),
        await nonceRequest(shareId, 'null'),
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

    it('consumes the nonce: the same ticket a second time is 404, identical to an unknown share', async () => {
      const issued = await issueFor();
      const headers = ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048));
      expectShare(await restGet(server, issued.shareId, headers), issued);
      const again = await restGet(server, issued.shareId, headers);
      expect(comparableAnswer(again)).to.deep.equal(comparableAnswer(await unknownShare404()));
      expectNoLeak(again, secretsOf(issued));
    });

    it('keeps several nonces of one share live: the 2nd of three works, then the 1st and 3rd still do', async () => {
      const issued = await issueFor();
      const nonces = [issued.nonce, await driver.nonce(issued.shareId), await driver.nonce(issued.shareId)];
      expect(new Set(nonces).size).to.equal(3);
      const x5c = oneLinePem(server.pki.auth.rsa2048);
      for (const nonce of [nonces[1], nonces[0], nonces[2]]) {
        const url = ticketUrl(issued.shareId, nonce ?? '');
        expectShare(
          await restGet(server, issued.shareId, ticketHeaders(ticketFor(issued, 'rsa2048', url), x5c)),
          issued,
        );
      }
    });

    it(`refuses the ${MAX_LIVE_NONCES + 1}th live nonce with 429, and issues again once one is used or all expire`, async () => {
      const issued = await issueFor();
      for (let i = 1; i < MAX_LIVE_NONCES; i++) {
        expect((await nonceRequest(issued.shareId)).status).to.equal(200);
      }
      const refused = await nonceRequest(issued.shareId);
      expect(refused.status).to.equal(429);
      expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(JSON.parse(refused.body)).to.include({ status: 429, title: 'Too Many Requests' });
      expectNoLeak(refused, secretsOf(issued));
      // Using one frees its place.
      expectShare(
        await restGet(server, issued.shareId, ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048))),
        issued,
      );
      expect((await nonceRequest(issued.shareId)).status).to.equal(200);
      expect((await nonceRequest(issued.shareId)).status).to.equal(429);
      // Expired nonces do not count.
      server.clock.advance(NONCE_TTL_MS);
      try {
        expect((await nonceRequest(issued.shareId)).status).to.equal(200);
      } finally {
        server.clock.advance(-NONCE_TTL_MS);
      }
    });

    it('answers 404 to a nonce request for an unknown share', async () => {
      const res = await nonceRequest(unknownShareId());
      expect(res.status).to.equal(404);
      expect(JSON.parse(res.body)).to.deep.equal({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: 'key share not found',
      });
    });

    it('ignores the members of an object nonce body, and answers 400 to a body that is not an object', async () => {
      const { shareId } = await issueFor();
      const res = await nonceRequest(shareId, '{"nonce":"mine"}');
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body).nonce).to.not.equal('mine');
      for (const body of ['[]', '"x"', '1', 'true']) {
        expect((await nonceRequest(shareId, body)).status, body).to.equal(400);
      }
    });

    it('accepts a nonce one millisecond before its lifetime ends', async () => {
      const issued = await issueFor();
      server.clock.advance(NONCE_TTL_MS - 1);
      try {
        const res = await restGet(
          server,
          issued.shareId,
          ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048)),
        );
        expectShare(res, issued);
      } finally {
        server.clock.advance(-(NONCE_TTL_MS - 1));
      }
    });

    it('accepts a ticket URL with the default port written out and the host in upper case', async () => {
      const issued = await issueFor();
      const url = ticketUrl(issued.shareId, issued.nonce, 'https://CSS.TEST:443');
      const res = await restGet(
        server,
        issued.shareId,
        ticketHeaders(ticketFor(issued, 'rsa2048', url), oneLinePem(server.pki.auth.rsa2048)),
      );
      expectShare(res, issued);
    });
  });

  describe('races and expiry', () => {
    it('serves a ticket presented five times at once exactly once; the others are 404', async () => {
      const issued = await issueFor();
      const headers = ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048));
      const answers = await Promise.all(Array.from({ length: 5 }, () => restGet(server, issued.shareId, headers)));
      expect(answers.map((res) => res.status).sort()).to.deep.equal([200, 404, 404, 404, 404]);
      expectShare(answers.find((res) => res.status === 200) as HttpResponse, issued);
    });

    it(`issues exactly ${MAX_LIVE_NONCES} nonces to ${MAX_LIVE_NONCES + 8} concurrent requests for one share`, async () => {
      const shareId = await driver.store(randomBytes(32), recipientOf(server.pki.auth.rsa2048));
      const answers = await Promise.all(Array.from({ length: MAX_LIVE_NONCES + 8 }, () => nonceRequest(shareId)));
      const statuses = answers.map((res) => res.status);
      expect(statuses.filter((code) => code === 200)).to.have.length(MAX_LIVE_NONCES);
      expect(statuses.filter((code) => code === 429)).to.have.length(8);
    });

    it('answers 404 to GET and to a nonce request once the share has expired, as for an unknown share', async () => {
      const expiry = new Date(server.clock.now().getTime() + DAY);
      const share = randomBytes(32);
      const created = await https(server.pki, {
        port: server.sharePorts.rest,
        method: 'POST',
        path: '/key-shares',
        headers: { ...JSON_HEADERS, 'x-expiry-time': expiry.toISOString() },
        body: JSON.stringify({ share: share.toString('base64'), recipient: recipientOf(server.pki.auth.rsa2048) }),
      });
      expect(created.status).to.equal(201);
      expect(created.headers['x-expiry-time']).to.equal(expiry.toISOString());
      expect(created.headers['x-expiry-time-adjusted']).to.equal('false');
      const shareId = String(created.headers['location']).slice('/key-shares/'.length);
      const signer = server.pki.auth.rsa2048;
      const headersFor = async (): Promise<Record<string, string>> => {
        const url = ticketUrl(shareId, await driver.nonce(shareId));
        return ticketHeaders(createAuthTicket({ signer, urls: [url] }).presentationFor(0), oneLinePem(signer));
      };
      // A minute before the share expires (its nonces are young: only the share's expiry can refuse them).
      server.clock.advance(DAY - 60_000);
      try {
        const [lastMinute, tooLate] = [await headersFor(), await headersFor()];
        expect((await restGet(server, shareId, lastMinute)).status).to.equal(200);
        server.clock.advance(60_000);
        const expired = await restGet(server, shareId, tooLate);
        expect(comparableAnswer(expired)).to.deep.equal(comparableAnswer(await unknownShare404()));
        expect((await nonceRequest(shareId)).status).to.equal(404);
      } finally {
        server.clock.advance(-DAY);
      }
    });
  });

  describe('refusals', () => {
    for (const refusal of REFUSAL_CASES) {
      const expected = HTTP_STATUS[refusal.refusal];
      it(`refuses ${refusal.name} with ${expected}`, async () => {
        const attempt = await refusal.prepare({ server, driver });
        let res: HttpResponse;
        try {
          res = await restGet(server, attempt.shareId, ticketHeaders(attempt.ticket, attempt.x5c));
        } finally {
          attempt.restore?.();
        }
        expect(res.status, res.body).to.equal(expected);
        expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
        expect(JSON.parse(res.body)).to.include({ type: 'about:blank', status: expected });
        expect(JSON.parse(res.body).detail).to.match(refusal.detail);
        expectNoLeak(res, attempt.secrets);
        if (expected === 404) {
          expect(comparableAnswer(res)).to.deep.equal(comparableAnswer(await unknownShare404()));
        }
      });
    }

    it('answers 400 when x-cdoc2-auth-x5c is missing', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, { 'x-cdoc2-auth-ticket': ticketFor(issued) });
      expect(res.status).to.equal(400);
      expect(JSON.parse(res.body).detail).to.match(/x-cdoc2-auth-x5c/);
      expectNoLeak(res, secretsOf(issued));
    });

    it('answers 400 when neither ticket header is sent', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, { 'x-cdoc2-auth-x5c': oneLinePem(server.pki.auth.rsa2048) });
      expect(res.status).to.equal(400);
      expectNoLeak(res, secretsOf(issued));
    });

    it('answers 400 to an empty x-cdoc2-auth-token', async () => {
      const issued = await issueFor();
      const res = await restGet(server, issued.shareId, {
        'x-cdoc2-auth-token': '',
        'x-cdoc2-auth-x5c': oneLinePem(server.pki.auth.rsa2048),
      });
      expect(res.status).to.equal(400);
    });

    it('answers byte-identical 404s for an unknown share, a used nonce and a share of someone else', async () => {
      const x5c = oneLinePem(server.pki.auth.rsa2048);
      const used = await issueFor();
      const usedHeaders = ticketHeaders(ticketFor(used), x5c);
      expectShare(await restGet(server, used.shareId, usedHeaders), used);
      const replayed = await restGet(server, used.shareId, usedHeaders);
      const othersShare = await issueFor('rsa4096');
      const notYours = await restGet(
        server,
        othersShare.shareId,
        ticketHeaders(ticketFor(othersShare, 'rsa2048'), x5c),
      );
      const unknown = await unknownShare404();
      expect(comparableAnswer(replayed)).to.deep.equal(comparableAnswer(unknown));
      expect(comparableAnswer(notYours)).to.deep.equal(comparableAnswer(unknown));
      expect(JSON.parse(unknown.body)).to.deep.equal({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: 'key share not found',
      });
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
          ...ticketHeaders(ticketFor(issued, 'rsa2048', url), oneLinePem(server.pki.auth.rsa2048)),
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
        ...ticketHeaders(ticketFor(issued, 'rsa2048', url), oneLinePem(server.pki.auth.rsa2048)),
        ...forwardedTo('css.test', 'http'),
      });
      expect(res.status).to.equal(401);
    });

    it('do not break a valid ticket, whether they name this server or another one', async () => {
      for (const headers of [forwardedTo('css.test'), forwardedTo('elsewhere.test', 'http')]) {
        const issued = await issueFor();
        const res = await restGet(server, issued.shareId, {
          ...ticketHeaders(ticketFor(issued), oneLinePem(server.pki.auth.rsa2048)),
          ...headers,
        });
        expectShare(res, issued);
      }
    });
  });
});
