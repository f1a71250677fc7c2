import { logSink } from '../support/log-sink.js';
import { connect } from 'node:tls';
import { expect } from 'chai';
import { capsuleFor, capsuleJson } from '../support/capsule-fixtures.js';
import { restCreateCapsule } from '../support/rest-round-trip.js';
import {
  comparableAnswer,
  https,
  startTestServer,
  type HttpRequest,
  type HttpResponse,
  type TestServer,
} from '../support/test-server.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface LogLine {
  readonly msg: string;
  readonly requestId?: string;
  readonly outcome?: string;
  readonly status?: number;
  readonly reason?: string;
}

/** A server whose JSON log lines the test reads; `requestLine` waits for a request's line. */
async function loggedServer(
  overrides: Parameters<typeof startTestServer>[0] = {},
): Promise<{ server: TestServer; requestLine: (requestId: string) => Promise<LogLine | undefined> }> {
  const lines: string[] = [];
  const server = await startTestServer(
    { log: { level: 'info' }, ...overrides },
    {
      logDestination: logSink((line) => lines.push(line)),
    },
  );
  // The line is written when the response has been sent, so it may arrive just after the client read the answer.
  const requestLine = async (requestId: string): Promise<LogLine | undefined> => {
    for (let attempt = 0; attempt < 500; attempt++) {
      const found = lines
        .map((line) => JSON.parse(line) as LogLine)
        .find((entry) => entry.msg === 'request' && entry.requestId === requestId);
      if (found) {
        return found;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return undefined;
  };
  return { server, requestLine };
}

/**
 * Writes raw bytes on one TLS connection and reads everything the server answers until it closes; `later`'s bytes
 * are written once the first answer bytes arrived.
 */
function rawExchange(
  server: TestServer,
  port: number,
  firstBytes: string,
  later?: () => Promise<string>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: server.pki.ca.certPem }, () => {
      socket.write(firstBytes);
    });
    socket.on('data', (chunk: Buffer) => {
      if (text === '') {
        later?.().then((bytes) => socket.write(bytes), reject);
      }
      text += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(text) : reject(error)));
  });
}

/** The status and headers (lower-case names) of each HTTP/1.1 response in a raw exchange. */
function rawResponses(text: string): Array<{ status: number; headers: Record<string, string> }> {
  return text
    .split(/(?=HTTP\/1\.1 \d{3} )/)
    .filter((part) => part.startsWith('HTTP/1.1 '))
    .map((part) => {
      const [statusLine = '', ...headerLines] = (part.split('\r\n\r\n')[0] ?? '').split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      return { status: Number(statusLine.split(' ')[1]), headers };
    });
}

/**
 * Every error a REST listener produces (the error table's, Fastify's own, the HTTP parser's, shutdown and outage)
 * answers with an empty body by default, as the official CDOC2 servers do and the official functional tests assert
 * (cdoc2-gatling-tests GET_CAPSULE NEG-02..09: bodyLength == 0), with `x-request-id` naming the log line that says
 * why; RFC 9457 problem details only when Accept names application/problem+json.
 */
describe('REST error bodies', () => {
  let server: TestServer;
  let requestLine: (requestId: string) => Promise<LogLine | undefined>;
  let foreignCapsuleId: string;
  let shareId: string;

  before(async () => {
    ({ server, requestLine } = await loggedServer({ shares: { maxNoncesPerShare: 1 } }));
    const created = await restCreateCapsule(server.pki, server.ports.restSender, capsuleFor(server.pki.clients.ecP384));
    foreignCapsuleId = String(created.headers['location']).slice('/key-capsules/'.length);
    const share = await https(server.pki, {
      port: server.sharePorts.rest,
      method: 'POST',
      path: '/key-shares',
      headers: JSON_TYPE,
      body: JSON.stringify({ share: Buffer.alloc(32, 7).toString('base64'), recipient: 'etsi/PNOEE-30303039914' }),
    });
    shareId = String(share.headers['location']).slice('/key-shares/'.length);
    // The one live nonce this server allows for the share: every further nonce request is 429.
    expect(
      (await https(server.pki, { port: server.sharePorts.rest, method: 'POST', path: `/key-shares/${shareId}/nonce` }))
        .status,
    ).to.equal(200);
  });
  after(() => server.close());

  const unknownCapsule = `KC${'0'.repeat(32)}`;
  const cases: ReadonlyArray<{ name: string; status: number; request: () => HttpRequest }> = [
    {
      name: 'malformed JSON (sender)',
      status: 400,
      request: () => ({
        port: server.ports.restSender,
        method: 'POST',
        path: '/key-capsules',
        headers: JSON_TYPE,
        body: '{',
      }),
    },
    {
      name: 'no client certificate (recipient)',
      status: 401,
      request: () => ({ port: server.ports.restRecipient, method: 'GET', path: `/key-capsules/${unknownCapsule}` }),
    },
    {
      name: 'an unknown capsule (recipient)',
      status: 404,
      request: () => ({
        port: server.ports.restRecipient,
        method: 'GET',
        path: `/key-capsules/${unknownCapsule}`,
        client: server.pki.clients.ecP256,
      }),
    },
    {
      name: 'an unknown path (Fastify 404, sender)',
      status: 404,
      request: () => ({ port: server.ports.restSender, method: 'GET', path: '/nothing-here' }),
    },
    {
      name: 'GET of a capsule on the sender listener',
      status: 405,
      request: () => ({ port: server.ports.restSender, method: 'GET', path: `/key-capsules/${unknownCapsule}` }),
    },
    {
      name: 'POST on the recipient listener',
      status: 405,
      request: () => ({
        port: server.ports.restRecipient,
        method: 'POST',
        path: '/key-capsules',
        headers: JSON_TYPE,
        body: '{}',
        client: server.pki.clients.ecP256,
      }),
    },
    {
      name: 'a body over 16 KiB',
      status: 413,
      request: () => ({
        port: server.ports.restSender,
        method: 'POST',
        path: '/key-capsules',
        headers: JSON_TYPE,
        body: JSON.stringify({ padding: 'x'.repeat(20_000) }),
      }),
    },
    {
      name: 'a body that is not JSON',
      status: 415,
      request: () => ({
        port: server.ports.restSender,
        method: 'POST',
        path: '/key-capsules',
        headers: { 'content-type': 'text/plain' },
        body: 'hello',
      }),
    },
    {
      name: 'an invalid key share (shares)',
      status: 400,
      request: () => ({
        port: server.sharePorts.rest,
        method: 'POST',
        path: '/key-shares',
        headers: JSON_TYPE,
        body: JSON.stringify({ share: 'AA==', recipient: 'etsi/PNOEE-30303039914' }),
      }),
    },
    {
      name: 'a nonce for an unknown share (shares)',
      status: 404,
      request: () => ({ port: server.sharePorts.rest, method: 'POST', path: `/key-shares/SS${'0'.repeat(32)}/nonce` }),
    },
    {
      name: 'one live nonce too many (shares)',
      status: 429,
      request: () => ({ port: server.sharePorts.rest, method: 'POST', path: `/key-shares/${shareId}/nonce` }),
    },
  ];

  const send = (request: HttpRequest, accept?: string): Promise<HttpResponse> =>
    https(server.pki, {
      ...request,
      headers: { ...request.headers, ...(accept === undefined ? {} : { accept }) },
    });

  for (const { name, status, request } of cases) {
    it(`answers ${status} to ${name} with an empty body and the x-request-id of a log line that says why`, async () => {
      const res = await send(request());
      expect(res.status).to.equal(status);
      expect(res.body).to.equal('');
      expect(res.headers['content-type']).to.equal(undefined);
      expect(res.headers['content-length']).to.equal('0');
      const requestId = String(res.headers['x-request-id']);
      expect(requestId).to.match(UUID);
      const line = await requestLine(requestId);
      expect(line?.status).to.equal(status);
      expect(line?.reason).to.be.a('string').and.not.equal('');
    });

    it(`answers ${status} to ${name} with problem+json when Accept names it`, async () => {
      const res = await send(request(), 'application/json, application/problem+json;q=0.5');
      expect(res.status).to.equal(status);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      const problem = JSON.parse(res.body) as Record<string, unknown>;
      expect(Object.keys(problem)).to.deep.equal(['type', 'title', 'status', 'detail']);
      expect(problem).to.include({ type: 'about:blank', status });
      expect(problem['detail']).to.be.a('string').and.not.equal('');
      expect(res.headers['x-request-id']).to.match(UUID);
    });
  }

  it('keeps the body empty for Accept */*, application/*, application/json and problem+json with q=0', async () => {
    for (const accept of ['*/*', 'application/*', 'application/json', 'application/problem+json;q=0']) {
      const res = await send(cases[0]?.request() as HttpRequest, accept);
      expect(res.status, accept).to.equal(400);
      expect(res.body, accept).to.equal('');
    }
  });

  it('answers unknown and not-yours capsules with byte-identical empty 404s (apart from Date and x-request-id)', async () => {
    const get = (id: string) =>
      https(server.pki, {
        port: server.ports.restRecipient,
        method: 'GET',
        path: `/key-capsules/${id}`,
        client: server.pki.clients.ecP256,
      });
    const unknown = await get(unknownCapsule);
    const notYours = await get(foreignCapsuleId);
    expect(unknown.status).to.equal(404);
    expect(comparableAnswer(notYours)).to.deep.equal(comparableAnswer(unknown));
    expect(notYours.headers['x-request-id']).to.not.equal(unknown.headers['x-request-id']);
  });

  it("answers Node's own 431 with an empty body and an x-request-id that is in the log", async () => {
    const text = await rawExchange(
      server,
      server.ports.restSender,
      `GET /key-capsules HTTP/1.1\r\nHost: localhost\r\nAccept: application/problem+json\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
    );
    const [answer] = rawResponses(text);
    expect(answer?.status).to.equal(431);
    expect(answer?.headers['content-length']).to.equal('0');
    const requestId = answer?.headers['x-request-id'] ?? '';
    expect(requestId).to.match(UUID);
    const line = await requestLine(requestId);
    expect(line).to.include({ status: 431, outcome: 'header_fields_too_large', operation: 'unknown' });
    expect(line?.reason).to.match(/HPE_HEADER_OVERFLOW/);
  });
});

describe('REST error bodies during shutdown', () => {
  it('answers a request that arrives on an open connection while the server drains with an empty 503', async () => {
    const { server, requestLine } = await loggedServer();
    const port = server.ports.restSender;
    const body = capsuleJson(capsuleFor(server.pki.clients.ecP256));
    const head = (length: number, expect = '') =>
      `POST /key-capsules HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${expect}\r\n`;
    let closed: Promise<void> | undefined;
    // The first request is in flight when the shutdown starts: the server has read its head (it answered
    // 100 Continue) and waits for its body. The second is pipelined behind it once the listener has stopped
    // accepting connections, so it arrives while the server drains.
    const text = await rawExchange(server, port, head(body.length, 'Expect: 100-continue\r\n'), async () => {
      closed = server.close();
      await refusesConnections(port);
      return body + head(body.length) + body;
    });
    await closed;
    const answers = rawResponses(text);
    expect(answers.map((answer) => answer.status)).to.deep.equal([100, 201, 503]);
    const refused = answers[2];
    expect(refused?.headers['content-length']).to.equal('0');
    expect(refused?.headers['connection']).to.equal('close');
    const requestId = refused?.headers['x-request-id'] ?? '';
    expect(requestId).to.match(UUID);
    const line = await requestLine(requestId);
    expect(line?.reason).to.match(/shutting down/);
  });
});

/** Resolves once a new connection to the port is refused (the listener has closed). */
async function refusesConnections(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    if (refused) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`port ${port} still accepts connections`);
}
