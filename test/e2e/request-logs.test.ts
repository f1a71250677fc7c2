import { logSink } from '../support/log-sink.js';
import { expect } from 'chai';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../support/auth-ticket-builder.js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  https,
  recipientClient,
  senderClient,
  startTestServer,
  TEST_SHARES_BASE_URL,
  type TestServer,
} from '../support/test-server.js';

interface LogLine {
  msg: string;
  transport?: string;
  operation?: string;
  outcome?: string;
  status?: string | number;
  durationMs?: number;
  requestId?: string;
  certificate?: string;
}

/** Sent as an `Authorization` header the server ignores: it must not reach any log line either. */
const AUTHORIZATION_SECRET = 'c2VjcmV0LWJlYXJlci10b2tlbi1mb3ItbG9ncw';

/** The JSON log lines of real requests: one per request, with what operators need and nothing secret. */
describe('request logs', () => {
  const lines: string[] = [];
  let server: TestServer;

  before(async () => {
    server = await startTestServer(
      { log: { level: 'info' } },
      {
        logDestination: logSink((line) => lines.push(line)),
      },
    );
  });
  after(() => server.close());

  it('logs one line per request, with its id, operation, transport, outcome and duration, and no secret', async () => {
    const client = server.pki.clients.ecP256;
    const capsule = capsuleFor(client);
    lines.length = 0;

    const created = await https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { 'content-type': 'application/json' },
      body: capsuleJson(capsule),
    });
    const capsuleId = String(created.headers['location']).slice('/key-capsules/'.length);
    await https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${capsuleId}`,
      client,
    });

    const sender = senderClient(server.pki, server.ports.grpcSender);
    const recipient = recipientClient(server.pki, server.ports.grpcRecipient, client);
    try {
      const viaGrpc = await grpcCreateCapsule(sender, {
        capsule: protoCapsule(capsule),
      });
      await grpcGetCapsule(recipient, { transactionId: viaGrpc.transactionId });
    } finally {
      sender.close();
      recipient.close();
    }

    const signer = server.pki.auth.rsa2048;
    const share = Buffer.alloc(32, 0x5a).toString('base64');
    const stored = await https(server.pki, {
      port: server.sharePorts.rest,
      method: 'POST',
      path: '/key-shares',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ share, recipient: `etsi/${serialNumberOf(signer)}` }),
    });
    const shareId = String(stored.headers['location']).slice('/key-shares/'.length);
    const nonce = JSON.parse(
      (await https(server.pki, { port: server.sharePorts.rest, method: 'POST', path: `/key-shares/${shareId}/nonce` }))
        .body,
    ).nonce as string;
    const ticket = createAuthTicket({
      signer,
      urls: [`${TEST_SHARES_BASE_URL}/key-shares/${shareId}?nonce=${nonce}`],
    }).presentationFor(0);
    const fetched = await https(server.pki, {
      port: server.sharePorts.rest,
      method: 'GET',
      path: `/key-shares/${shareId}`,
      headers: {
        'x-cdoc2-auth-ticket': ticket,
        'x-cdoc2-auth-x5c': oneLinePem(signer),
        authorization: `Bearer ${AUTHORIZATION_SECRET}`,
      },
    });
    expect(fetched.status).to.equal(200);

    const requests = lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.msg === 'request');
    expect(requests.map((line) => `${line.transport} ${line.operation} ${line.outcome} ${line.status}`)).to.deep.equal([
      'rest CreateKeyCapsule ok 201',
      'rest GetKeyCapsule ok 200',
      'grpc CreateKeyCapsule ok OK',
      'grpc GetKeyCapsule ok OK',
      'rest CreateKeyShare ok 201',
      'rest CreateNonce ok 200',
      'rest GetKeyShare ok 200',
    ]);
    for (const line of requests) {
      expect(line.requestId, 'request id').to.match(/^[0-9a-f-]{36}$/);
      expect(line.durationMs).to.be.a('number');
    }
    // The recipient's certificate is named by its organisation only: no CN, no person.
    const recipientLines = requests.filter((line) => line.operation === 'GetKeyCapsule');
    expect(recipientLines.map((line) => line.certificate)).to.deep.equal([
      'O=cdoc2-keyserver tests',
      'O=cdoc2-keyserver tests',
    ]);

    const everything = lines.join('\n');
    for (const secret of [
      capsule.recipientId.toString('base64'),
      capsule.ephemeralKeyMaterial.toString('base64'),
      share,
      nonce,
      ticket.slice(0, 40),
      ticket.slice(-40),
      AUTHORIZATION_SECRET,
      oneLinePem(signer).slice(30, 90),
      'Recipient ecP256',
      'TESTNUMBER',
      serialNumberOf(signer),
    ]) {
      expect(everything, `the logs contain ${secret.slice(0, 20)}…`).to.not.contain(secret);
    }
  });
});
