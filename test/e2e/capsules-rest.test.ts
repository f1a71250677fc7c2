import { expect } from 'chai';
import { capsuleFor, capsuleJson } from '../support/capsule-fixtures.js';
import { https, PROBLEM_ACCEPT, startTestServer, type HttpResponse, type TestServer } from '../support/test-server.js';

/**
 * What only the REST wire of the key capsule server has: the Location and x-expiry-* headers of a create, the
 * GET body's exact bytes, and which paths and listeners answer 404 or 405. The behaviour both wires share is in
 * capsules.test.ts, run over each.
 */
const JSON_HEADERS = { ...PROBLEM_ACCEPT, 'content-type': 'application/json' };
const DAY = 86_400_000;

describe('key capsule server over REST only (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ capsules: { expiry: { default: 'P10D', max: 'P30D' } } });
  });
  after(() => server.close());

  const post = (body: string): Promise<HttpResponse> =>
    https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: JSON_HEADERS,
      body,
    });

  const get = (path: string): Promise<HttpResponse> =>
    https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path,
      headers: PROBLEM_ACCEPT,
      client: server.pki.clients.ecP384,
    });

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
    const created = await post(capsuleJson(capsule));
    const res = await get(String(created.headers['location']));
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    expect(res.body).to.equal(capsuleJson(capsule));
    expect(Object.keys(JSON.parse(res.body) as object)).to.deep.equal([
      'recipient_id',
      'ephemeral_key_material',
      'capsule_type',
    ]);
  });

  it('answers 404, not 400, to GET /key-capsules/ and 405 to GET /key-capsules', async () => {
    const noId = await get('/key-capsules/');
    expect(noId.status).to.equal(404);
    // The same problem as for any unknown id: a path without an id names no capsule.
    expect(JSON.parse(noId.body)).to.deep.equal({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'key capsule not found',
    });
    expect((await get('/key-capsules')).status).to.equal(405);
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
