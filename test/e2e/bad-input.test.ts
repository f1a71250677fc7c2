import { connect } from 'node:tls';
import { expect } from 'chai';
import { capsuleFor, capsuleJson } from '../support/capsule-fixtures.js';
import { https, PROBLEM_ACCEPT, startTestServer, type HttpResponse, type TestServer } from '../support/test-server.js';

/** Every answer to bad input: a 4xx problem+json that names the problem, never a 500, never internals. */
function expectClientError(res: HttpResponse, statusCode: number, detail: RegExp): void {
  expect(res.status, res.body).to.equal(statusCode);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  const problem = JSON.parse(res.body) as { status: number; detail: string };
  expect(problem.status).to.equal(statusCode);
  expect(problem.detail).to.match(detail);
  expect(res.body).to.not.match(/ at .*\.(ts|js):\d+|select |insert |key_capsules|sqlite|mysql/i);
}

describe('bad input on the REST sender listener', () => {
  let server: TestServer;
  let valid: ReturnType<typeof capsuleFor>;

  before(async () => {
    server = await startTestServer();
    valid = capsuleFor(server.pki.clients.ecP256);
  });
  after(() => server.close());

  const post = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { ...PROBLEM_ACCEPT, ...headers },
      body,
    });

  const withFields = (fields: Record<string, unknown>): string =>
    JSON.stringify({ ...(JSON.parse(capsuleJson(valid)) as object), ...fields });

  it('answers 400 to malformed JSON', async () => {
    expectClientError(await post('{"recipient_id": '), 400, /not valid JSON/);
  });

  it('answers 400 to an empty JSON body', async () => {
    expectClientError(await post(''), 400, /empty/);
  });

  it('answers 400 to a JSON array and to a JSON string', async () => {
    expectClientError(await post('[]'), 400, /body must be object/);
    expectClientError(await post('"x"'), 400, /body must be object/);
  });

  it('answers 400 to a body with __proto__ (prototype poisoning)', async () => {
    expectClientError(await post('{"__proto__": {"admin": true}}'), 400, /not valid JSON/);
  });

  it('answers 400 to an unknown field instead of dropping it', async () => {
    expectClientError(await post(withFields({ extra: 1 })), 400, /additional properties/);
  });

  it('answers 400 to a missing field', async () => {
    const { capsule_type: _dropped, ...rest } = JSON.parse(capsuleJson(valid)) as Record<string, unknown>;
    expectClientError(await post(JSON.stringify(rest)), 400, /capsule_type/);
  });

  it('answers 400 to an unknown capsule type (the reference answers 500)', async () => {
    expectClientError(await post(withFields({ capsule_type: 'ecc_secp999r1' })), 400, /capsule_type/);
  });

  it('answers 400 to a wrong EC prefix byte (the reference answers 500)', async () => {
    const wrongPrefix = Buffer.from(valid.recipientId);
    wrongPrefix[0] = 0x02;
    expectClientError(
      await post(withFields({ recipient_id: wrongPrefix.toString('base64') })),
      400,
      /recipient_id must start with 0x04/,
    );
  });

  it('answers 400 to bad base64: unpadded, url-safe alphabet, embedded newline, a number', async () => {
    const text = valid.recipientId.toString('base64');
    expectClientError(await post(withFields({ recipient_id: text.replace(/=+$/, '') })), 400, /recipient_id/);
    // The url-safe alphabet: '-' and '_' where standard base64 has '+' and '/'. A random point's encoding may
    // have neither, so one character is forced to '-' to make the text differ from the valid one.
    const urlSafe = /[+/]/.test(text)
      ? text.replace(/\+/g, '-').replace(/\//g, '_')
      : `${text.slice(0, 10)}-${text.slice(11)}`;
    expect(urlSafe).to.not.equal(text);
    expectClientError(await post(withFields({ recipient_id: urlSafe })), 400, /recipient_id/);
    expectClientError(
      await post(withFields({ recipient_id: `${text.slice(0, 8)}\n${text.slice(8)}` })),
      400,
      /recipient_id/,
    );
    expectClientError(await post(withFields({ recipient_id: 12345 })), 400, /recipient_id/);
  });

  it('answers 400 to base64 with non-zero padding bits', async () => {
    // 65 bytes encode to 88 characters ending in one '='; changing the last data character keeps the length
    // and the alphabet but sets bits that a canonical encoder leaves at zero.
    const text = valid.ephemeralKeyMaterial.toString('base64');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet[alphabet.indexOf(text.at(-2) ?? 'A') ^ 1];
    const tampered = `${text.slice(0, -2)}${last}=`;
    if (Buffer.from(tampered, 'base64').toString('base64') === tampered) {
      throw new Error('test setup: the tampered text is still canonical');
    }
    expectClientError(await post(withFields({ ephemeral_key_material: tampered })), 400, /ephemeral_key_material/);
  });

  it('answers 415 to a body that is not JSON', async () => {
    expectClientError(await post(capsuleJson(valid), { 'content-type': 'text/plain' }), 415, /Unsupported Media Type/);
    expectClientError(
      await post(capsuleJson(valid), { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      /Unsupported Media Type/,
    );
  });

  it('answers 413 to a body over the 16 KiB limit', async () => {
    const huge = withFields({ ephemeral_key_material: Buffer.alloc(20_000).toString('base64') });
    expectClientError(await post(huge), 413, /too large/i);
  });

  it('answers 400 to an x-expiry-time that is not RFC 3339', async () => {
    for (const header of ['tomorrow', '2030-02-30T00:00:00Z', '2030-01-01', '2030-01-01T00:00:00']) {
      expectClientError(
        await post(capsuleJson(valid), { 'content-type': 'application/json', 'x-expiry-time': header }),
        400,
        /x-expiry-time/,
      );
    }
  });

  it('answers 400 to an x-expiry-time in the past', async () => {
    expectClientError(
      await post(capsuleJson(valid), { 'content-type': 'application/json', 'x-expiry-time': '2000-01-01T00:00:00Z' }),
      400,
      /not in the future/,
    );
  });

  it('answers 431 to absurdly large headers and keeps serving', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: server.ports.restSender, servername: 'localhost', ca: server.pki.ca.certPem },
        () => {
          socket.write(`GET /key-capsules HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
        },
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' ? resolve(text) : reject(error),
      );
    });
    expect(res).to.match(/^HTTP\/1\.1 431/);
    const after = await post(capsuleJson(valid));
    expect(after.status).to.equal(201);
  });

  it('stored nothing for any of the refused requests', async () => {
    const rows = await server.app.database('key_capsules').count({ n: '*' }).first();
    // Only the two successful posts of this suite (431 control and none else) may be there.
    expect(Number((rows as { n: number | string }).n)).to.equal(1);
  });
});
