import { expect } from 'chai';
import { CLIENT_KEYS, type ClientName } from '../support/test-pki.js';
import { capsuleFor, capsuleJson, type TestCapsule } from '../support/capsule-fixtures.js';
import {
  comparableAnswer,
  https,
  PROBLEM_ACCEPT,
  startTestServer,
  type HttpResponse,
  type TestServer,
} from '../support/test-server.js';

const JSON_HEADERS = { ...PROBLEM_ACCEPT, 'content-type': 'application/json' };
const DAY = 86_400_000;

describe('key capsule server over REST (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ capsules: { expiry: { default: 'P10D', max: 'P30D' } } });
  });
  after(() => server.close());

  const post = (body: string, headers: Record<string, string> = {}): Promise<HttpResponse> =>
    https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { ...JSON_HEADERS, ...headers },
      body,
    });

  const get = (id: string, client: ClientName | 'none' = 'ecP256'): Promise<HttpResponse> =>
    https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${id}`,
      headers: PROBLEM_ACCEPT,
      ...(client === 'none' ? {} : { client: server.pki.clients[client] }),
    });

  const store = async (capsule: TestCapsule, headers: Record<string, string> = {}): Promise<string> => {
    const res = await post(capsuleJson(capsule), headers);
    expect(res.status, res.body).to.equal(201);
    return String(res.headers['location']).replace('/key-capsules/', '');
  };

  for (const name of Object.keys(CLIENT_KEYS) as ClientName[]) {
    it(`stores a capsule and serves it to the ${name} certificate that holds the recipient key`, async () => {
      const capsule = capsuleFor(server.pki.clients[name]);
      const id = await store(capsule);
      const res = await get(id, name);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^application\/json/);
      expect(res.body).to.equal(capsuleJson(capsule));
    });
  }

  it('answers 201 with a Location path, x-expiry-time and x-expiry-time-adjusted', async () => {
    const res = await post(capsuleJson(capsuleFor(server.pki.clients.ecP256)));
    expect(res.status).to.equal(201);
    expect(res.headers['location']).to.match(/^\/key-capsules\/KC[0-9a-f]{32}$/);
    expect(res.headers['x-expiry-time']).to.equal(new Date(server.clock.now().getTime() + 10 * DAY).toISOString());
    expect(res.headers['x-expiry-time-adjusted']).to.equal('false');
    expect(res.body).to.equal('');
  });

  it('returns the GET body string-exact: key order and padded standard base64 as posted', async () => {
    const capsule = capsuleFor(server.pki.clients.ecP384);
    const id = await store(capsule);
    const res = await get(id, 'ecP384');
    expect(res.body).to.equal(capsuleJson(capsule));
    expect(Object.keys(JSON.parse(res.body) as object)).to.deep.equal([
      'recipient_id',
      'ephemeral_key_material',
      'capsule_type',
    ]);
  });

  it('stores the same capsule twice as two capsules with two ids', async () => {
    const body = capsuleJson(capsuleFor(server.pki.clients.ecP256));
    const first = await post(body);
    const second = await post(body);
    expect([first.status, second.status]).to.deep.equal([201, 201]);
    expect(first.headers['location']).to.not.equal(second.headers['location']);
  });

  it('keeps a requested expiry within the maximum and reports it on POST and GET', async () => {
    const requested = new Date(server.clock.now().getTime() + 5 * DAY);
    const res = await post(capsuleJson(capsuleFor(server.pki.clients.ecP256)), {
      'x-expiry-time': requested.toISOString(),
    });
    expect(res.headers['x-expiry-time']).to.equal(requested.toISOString());
    expect(res.headers['x-expiry-time-adjusted']).to.equal('false');
    const fetched = await get(String(res.headers['location']).slice('/key-capsules/'.length));
    expect(fetched.headers['x-expiry-time']).to.equal(requested.toISOString());
  });

  it('clamps an expiry beyond the maximum and says so with x-expiry-time-adjusted: true', async () => {
    const res = await post(capsuleJson(capsuleFor(server.pki.clients.ecP256)), {
      'x-expiry-time': '2199-01-01T00:00:00Z',
    });
    expect(res.status).to.equal(201);
    expect(res.headers['x-expiry-time-adjusted']).to.equal('true');
    expect(res.headers['x-expiry-time']).to.equal(new Date(server.clock.now().getTime() + 30 * DAY).toISOString());
    const fetched = await get(String(res.headers['location']).slice('/key-capsules/'.length));
    expect(fetched.headers['x-expiry-time-adjusted']).to.equal('true');
  });

  it('returns 404 when the certificate does not match, identical to the 404 of an unknown id', async () => {
    const id = await store(capsuleFor(server.pki.clients.ecP256));
    const wrongCertificate = await get(id, 'ecP384');
    const wrongKeySameCurveKind = await get(id, 'rsa2048');
    const unknown = await get(`KC${'0'.repeat(32)}`, 'ecP256');
    expect(wrongCertificate.status).to.equal(404);
    expect(comparableAnswer(wrongCertificate)).to.deep.equal(comparableAnswer(unknown));
    expect(comparableAnswer(wrongKeySameCurveKind)).to.deep.equal(comparableAnswer(unknown));
    expect(JSON.parse(unknown.body)).to.deep.equal({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'key capsule not found',
    });
  });

  it('returns the same 404 once the capsule has expired, even before the cleanup deletes it', async () => {
    const id = await store(capsuleFor(server.pki.clients.ecP256), {
      'x-expiry-time': new Date(server.clock.now().getTime() + DAY).toISOString(),
    });
    expect((await get(id)).status).to.equal(200);
    const unknown = await get(`KC${'f'.repeat(32)}`);
    server.clock.advance(DAY);
    const expired = await get(id);
    server.clock.advance(-DAY);
    expect(comparableAnswer(expired)).to.deep.equal(comparableAnswer(unknown));
  });

  it('deletes expired capsules in the cleanup and keeps the rest', async () => {
    const shortLived = await store(capsuleFor(server.pki.clients.ecP256), {
      'x-expiry-time': new Date(server.clock.now().getTime() + 60_000).toISOString(),
    });
    const longLived = await store(capsuleFor(server.pki.clients.ecP256));
    server.clock.advance(120_000);
    try {
      expect(await server.app.runCleanup()).to.be.greaterThanOrEqual(1);
      const rows = await server.app.database('key_capsules').whereIn('transaction_id', [shortLived, longLived]);
      // The id column is VARBINARY on MariaDB (exact comparison), so it reads back as a Buffer.
      expect(rows.map((row: { transaction_id: Buffer }) => row.transaction_id.toString('latin1'))).to.deep.equal([
        longLived,
      ]);
    } finally {
      server.clock.advance(-120_000);
    }
  });

  for (const length of [17, 35]) {
    it(`answers 400 to a transaction id of ${length} characters`, async () => {
      const res = await get('K'.repeat(length));
      expect(res.status).to.equal(400);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(JSON.parse(res.body).detail).to.match(/transactionId/);
    });
  }

  it('answers 404, not 400, to GET /key-capsules/ and 405 to GET /key-capsules', async () => {
    expect((await get('')).status).to.equal(404);
    const res = await https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: '/key-capsules',
      client: server.pki.clients.ecP256,
    });
    expect(res.status).to.equal(405);
  });

  it('answers 400 to a 2101-byte ephemeral_key_material and stores nothing', async () => {
    const capsule = { ...capsuleFor(server.pki.clients.rsa2048), ephemeralKeyMaterial: Buffer.alloc(2101, 1) };
    const before = await server.app.database('key_capsules').count({ n: '*' }).first();
    const res = await post(capsuleJson(capsule));
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.body).detail).to.match(/ephemeral_key_material/);
    expect(await server.app.database('key_capsules').count({ n: '*' }).first()).to.deep.equal(before);
  });

  it('answers 400 to a 2101-byte recipient_id', async () => {
    const capsule = { ...capsuleFor(server.pki.clients.rsa2048), recipientId: Buffer.alloc(2101, 1) };
    const res = await post(capsuleJson(capsule));
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.body).detail).to.match(/recipient_id/);
  });

  it('serves nothing but the recipient operation on the recipient listener, and the reverse', async () => {
    const onRecipient = await https(server.pki, {
      port: server.ports.restRecipient,
      method: 'POST',
      path: '/key-capsules',
      headers: JSON_HEADERS,
      body: capsuleJson(capsuleFor(server.pki.clients.ecP256)),
      client: server.pki.clients.ecP256,
    });
    expect(onRecipient.status).to.equal(405);
    const onSender = await https(server.pki, {
      port: server.ports.restSender,
      method: 'GET',
      path: `/key-capsules/KC${'0'.repeat(32)}`,
    });
    // The official sender server answers 405 here too; a 404 would read as "no such capsule".
    expect(onSender.status).to.equal(405);
  });
});
