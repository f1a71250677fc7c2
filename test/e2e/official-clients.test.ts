import { connect } from 'node:tls';
import { expect } from 'chai';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { createAuthTicket, serialNumberOf } from '../support/auth-ticket-builder.js';
import { capsuleFor } from '../support/capsule-fixtures.js';
import { restCreateCapsule, restCreateShare } from '../support/rest-round-trip.js';
import { https, startTestServer, TEST_SHARES_BASE_URL, type TestServer } from '../support/test-server.js';

/**
 * The official Java client (open-eid/cdoc2-java-ref-impl, cdoc2-client 2.0.0: openapi-generator 7.8 `java` /
 * `jersey3`, Jersey 3.1 over HttpURLConnection, Jackson 2.17; key-capsules 2.1.0 and key-shares 1.0.1), replayed
 * byte for byte on one HTTP/1.1 connection per request:
 * - every request carries `User-Agent: OpenAPI-Generator/<API version>/java`, `Host` and `Connection: keep-alive`;
 * - an operation that declares a JSON answer sends `Accept: application/json`; one that declares none (the two
 *   creates, 201 without a body) sends no Accept of its own, so HttpURLConnection adds its default
 *   `text/html, image/gif, image/jpeg, *; q=.2, *\/*; q=.2`;
 * - bodies are Jackson's compact JSON in the OpenAPI's property order, byte[] as padded standard base64;
 * - createNonce(shareId, null) has a `nullable` body, which the generated client serialises as the four bytes
 *   `null` with `Content-Type: application/json`;
 * - the 201's id is read as the last `/`-separated segment of `Location`;
 * - getKeyShare sends `x-cdoc2-auth-ticket` and `x-cdoc2-auth-x5c` as one-line PEM
 *   (`-----BEGIN CERTIFICATE-----<base64>-----END CERTIFICATE-----`).
 */
const HTTP_URL_CONNECTION_ACCEPT = 'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends `head` and `body` exactly as given and reads one response (the connection is kept alive, as Java does). */
function exchange(
  server: TestServer,
  port: number,
  head: readonly string[],
  body = '',
  client?: IssuedCertificate,
): Promise<Answer> {
  const bytes = `${head.join('\r\n')}\r\n${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: server.pki.ca.certPem,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      },
      () => socket.write(bytes),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        return;
      }
      const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      const length = Number(headers['content-length'] ?? 0);
      if (received.length >= end + 4 + length) {
        socket.destroy();
        resolve({
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
        });
      }
    });
    socket.on('error', reject);
  });
}

/** The id a Java client takes from a 201: `split("/")`, last element. */
const idFromLocation = (answer: Answer): string => (answer.headers['location'] ?? '').split('/').at(-1) ?? '';

describe('replay of the official Java client requests (REST)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const capsulesAgent = 'User-Agent: OpenAPI-Generator/2.1.0/java';
  const sharesAgent = 'User-Agent: OpenAPI-Generator/1.0.1/java';

  it('creates a capsule and gets it with the recipient certificate, then gets an empty 404 for an unknown id', async () => {
    const recipient = server.pki.clients.ecP384;
    const capsule = capsuleFor(recipient);
    const body = `{"recipient_id":"${capsule.recipientId.toString('base64')}","ephemeral_key_material":"${capsule.ephemeralKeyMaterial.toString('base64')}","capsule_type":"${capsule.capsuleType}"}`;
    const created = await exchange(
      server,
      server.ports.restSender,
      [
        'POST /key-capsules HTTP/1.1',
        `Accept: ${HTTP_URL_CONNECTION_ACCEPT}`,
        'Content-Type: application/json',
        capsulesAgent,
        `Host: localhost:${server.ports.restSender}`,
        'Connection: keep-alive',
      ],
      body,
    );
    expect(created.status, created.body).to.equal(201);
    const transactionId = idFromLocation(created);
    expect(transactionId).to.match(/^KC[0-9a-f]{32}$/);

    const getHead = (id: string) => [
      `GET /key-capsules/${id} HTTP/1.1`,
      'Accept: application/json',
      capsulesAgent,
      `Host: localhost:${server.ports.restRecipient}`,
      'Connection: keep-alive',
    ];
    const fetched = await exchange(server, server.ports.restRecipient, getHead(transactionId), '', recipient);
    expect(fetched.status).to.equal(200);
    expect(fetched.headers['content-type']).to.match(/^application\/json/);
    expect(fetched.body).to.equal(body);

    // The Java client maps 404 to "no capsule"; the official functional tests assert an empty body.
    const unknown = await exchange(server, server.ports.restRecipient, getHead(`KC${'0'.repeat(32)}`), '', recipient);
    expect(unknown.status).to.equal(404);
    expect(unknown.body).to.equal('');
    expect(unknown.headers['content-length']).to.equal('0');
  });

  it('creates a share, asks for a nonce with the body `null`, and gets the share with the signed ticket', async () => {
    const signer = server.pki.auth.rsa2048;
    const share = Buffer.alloc(32, 0x2a).toString('base64');
    const recipient = `etsi/${serialNumberOf(signer)}`;
    const host = `Host: localhost:${server.sharePorts.rest}`;
    const created = await exchange(
      server,
      server.sharePorts.rest,
      [
        'POST /key-shares HTTP/1.1',
        `Accept: ${HTTP_URL_CONNECTION_ACCEPT}`,
        'Content-Type: application/json',
        sharesAgent,
        host,
        'Connection: keep-alive',
      ],
      `{"share":"${share}","recipient":"${recipient}"}`,
    );
    expect(created.status, created.body).to.equal(201);
    const shareId = idFromLocation(created);

    const nonceAnswer = await exchange(
      server,
      server.sharePorts.rest,
      [
        `POST /key-shares/${shareId}/nonce HTTP/1.1`,
        'Accept: application/json',
        'Content-Type: application/json',
        sharesAgent,
        host,
        'Connection: keep-alive',
      ],
      'null',
    );
    expect(nonceAnswer.status, nonceAnswer.body).to.equal(200);
    const { nonce } = JSON.parse(nonceAnswer.body) as { nonce: string };
    // NonceResponse: a string of 12..16 characters.
    expect(nonce).to.be.a('string').with.length.within(12, 16);

    const ticket = createAuthTicket({
      signer,
      urls: [`${TEST_SHARES_BASE_URL}/key-shares/${shareId}?nonce=${nonce}`],
    }).presentationFor(0);
    const x5c = `-----BEGIN CERTIFICATE-----${Buffer.from(signer.certificate.rawData).toString('base64')}-----END CERTIFICATE-----`;
    const fetched = await exchange(server, server.sharePorts.rest, [
      `GET /key-shares/${shareId} HTTP/1.1`,
      `x-cdoc2-auth-ticket: ${ticket}`,
      `x-cdoc2-auth-x5c: ${x5c}`,
      'Accept: application/json',
      sharesAgent,
      host,
      'Connection: keep-alive',
    ]);
    expect(fetched.status, fetched.body).to.equal(200);
    expect(JSON.parse(fetched.body)).to.deep.equal({ share, recipient });
  });
});

/**
 * The official functional test plan (open-eid/cdoc2-gatling-tests, cdoc2-capsule-server scenarios): the
 * GET_CAPSULE NEG cases on the recipient port with a trusted client certificate, and PUT_CAPSULE NEG-01.
 */
describe('the official functional test plan for key capsules (NEG cases)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const get = (path: string, client: IssuedCertificate = server.pki.clients.ecP256) =>
    https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path,
      headers: { accept: 'application/json' },
      client,
    });

  const store = async (holder: IssuedCertificate): Promise<string> => {
    const created = await restCreateCapsule(server.pki, server.ports.restSender, capsuleFor(holder));
    expect(created.status).to.equal(201);
    return String(created.headers['location']);
  };

  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ['NEG-02 random 18-character id', '/key-capsules/Ab3dE6gH9jK2mN5pQ8', 404],
    ['NEG-03 too short id', '/key-capsules/123', 400],
    ['NEG-05 the id `null`', '/key-capsules/null', 400],
    ['NEG-07 35-character id', `/key-capsules/${'x'.repeat(35)}`, 400],
  ];
  for (const [name, path, status] of cases) {
    it(`${name}: ${status} with a body of length 0`, async () => {
      const res = await get(path);
      expect(res.status).to.equal(status);
      expect(res.body).to.equal('');
    });
  }

  it('NEG-04 empty id: 404; NEG-06 no id and no slash: 405', async () => {
    expect((await get('/key-capsules/')).status).to.equal(404);
    expect((await get('/key-capsules')).status).to.equal(405);
  });

  it('NEG-08 (EC) and NEG-09 (RSA) a capsule for another key: 404 with a body of length 0', async () => {
    for (const other of [server.pki.clients.ecP384, server.pki.clients.rsa2048]) {
      const res = await get(await store(other));
      expect(res.status).to.equal(404);
      expect(res.body).to.equal('');
    }
  });

  it('PUT NEG-01 an RSA capsule with 2101 bytes of key material: 400 and no Location', async () => {
    const capsule = { ...capsuleFor(server.pki.clients.rsa2048), ephemeralKeyMaterial: Buffer.alloc(2101, 7) };
    const res = await restCreateCapsule(server.pki, server.ports.restSender, capsule);
    expect(res.status).to.equal(400);
    expect(res.headers['location']).to.equal(undefined);
    expect(res.body).to.equal('');
  });
});

/**
 * The same plan for key shares (cdoc2-gatling-tests, cdoc2-shares-server GET_KEYSHARE NEG cases and
 * POST_KEYSHARE NEG-01), with a random ticket, as the plan sends; it also sends the 1.2 drafts' session headers,
 * which this server ignores.
 */
describe('the official functional test plan for key shares (NEG cases)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const get = (path: string) =>
    https(server.pki, {
      port: server.sharePorts.rest,
      method: 'GET',
      path,
      headers: {
        'x-cdoc2-auth-token': 'dGhpcyBpcyBub3QgYSB0aWNrZXQ',
        'x-cdoc2-auth-x5c': server.pki.auth.rsa2048.certPem.replace(/\r?\n/g, ''),
        'x-cdoc2-session-token': 'bm90IGEgc2Vzc2lvbiB0b2tlbg',
      },
    });

  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ['NEG-01 the id `null`', '/key-shares/null', 400],
    ['NEG-03 35-character id', `/key-shares/${'y'.repeat(35)}`, 400],
    ['NEG-05 a random ticket', '/key-shares/Zx8Yw7Vu6Ts5Rq4Po3', 401],
  ];
  for (const [name, path, status] of cases) {
    it(`${name}: ${status} with a body of length 0`, async () => {
      const res = await get(path);
      expect(res.status).to.equal(status);
      expect(res.body).to.equal('');
    });
  }

  it('NEG-02 empty id: 404; NEG-04 no id and no slash: 405', async () => {
    expect((await get('/key-shares/')).status).to.equal(404);
    expect((await get('/key-shares')).status).to.equal(405);
  });

  it('POST NEG-01 a share one byte over 128: 400 and no Location', async () => {
    const res = await restCreateShare(
      server.pki,
      server.sharePorts.rest,
      Buffer.alloc(129, 1),
      'etsi/PNOEE-30303039914',
    );
    expect(res.status).to.equal(400);
    expect(res.headers['location']).to.equal(undefined);
  });
});
