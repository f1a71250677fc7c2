import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import { restCreateCapsule } from '../support/rest-round-trip.js';
import {
  grpcCreateCapsule,
  grpcCreateShare,
  grpcGetCapsule,
  https,
  startTestServer,
  recipientClient,
  senderClient,
  shareRecipientClient,
  shareSenderClient,
  type TestServer,
} from '../support/test-server.js';
import {
  grpcDriver,
  issueShare,
  JSON_HEADERS,
  recipientOf,
  restDriver,
  restGet,
  ticketHeaders,
  unknownShareId,
} from './shares-helpers.js';
import { OPERATION_NAMES, type OperationName } from '../../src/transport/operations.js';
import { REQUEST_LOG_FIELDS } from '../../src/transport/request-pipeline.js';

type Transport = 'rest' | 'grpc';

/** One request over one transport; its answer is not judged here (other suites do), only what it leaves behind. */
type Send = (server: TestServer, clients: Clients) => Promise<unknown>;

interface Clients {
  readonly sender: ReturnType<typeof senderClient>;
  readonly recipient: ReturnType<typeof recipientClient>;
  readonly shareSender: ReturnType<typeof shareSenderClient>;
  readonly shareRecipient: ReturnType<typeof shareRecipientClient>;
}

interface Case {
  readonly operation: OperationName;
  readonly outcome: string;
  readonly send: Readonly<Record<Transport, Send>>;
}

const ignoreFailure = (pending: Promise<unknown>): Promise<unknown> => pending.catch((error: unknown) => error);

/** A share with a live nonce and a ticket for it, issued over REST (the nonce is consumed by one fetch). */
async function ticketedShare(server: TestServer): Promise<{ shareId: string; ticket: string; x5c: string }> {
  const signer = server.pki.auth.rsa2048;
  const issued = await issueShare(restDriver(server), recipientOf(signer));
  const ticket = createAuthTicket({ signer, urls: [issued.url] }).presentationFor(0);
  return { shareId: issued.shareId, ticket, x5c: oneLinePem(signer) };
}

async function storedCapsuleId(server: TestServer): Promise<string> {
  const created = await restCreateCapsule(server.pki, server.ports.restSender, capsuleFor(server.pki.clients.ecP256));
  return String(created.headers['location']).slice('/key-capsules/'.length);
}

const storedShareId = (server: TestServer): Promise<string> =>
  restDriver(server).store(Buffer.alloc(32, 2), recipientOf(server.pki.auth.rsa2048));

const UNKNOWN_CAPSULE = 'KC' + '0'.repeat(32);

/** Each operation once succeeding and once failing, driven over both transports. */
const CASES: readonly Case[] = [
  {
    operation: 'CreateKeyCapsule',
    outcome: 'ok',
    send: {
      rest: (server) => restCreateCapsule(server.pki, server.ports.restSender, capsuleFor(server.pki.clients.ecP256)),
      grpc: (server, { sender }) =>
        grpcCreateCapsule(sender, { capsule: protoCapsule(capsuleFor(server.pki.clients.ecP256)) }),
    },
  },
  {
    operation: 'CreateKeyCapsule',
    outcome: 'invalid_argument',
    send: {
      rest: (server) =>
        https(server.pki, {
          port: server.ports.restSender,
          method: 'POST',
          path: '/key-capsules',
          headers: JSON_HEADERS,
          body: JSON.stringify({
            ...JSON.parse(capsuleJson(capsuleFor(server.pki.clients.ecP256))),
            capsule_type: 'x',
          }),
        }),
      grpc: (_server, { sender }) => ignoreFailure(grpcCreateCapsule(sender, {})),
    },
  },
  {
    operation: 'GetKeyCapsule',
    outcome: 'ok',
    send: {
      rest: async (server) =>
        https(server.pki, {
          port: server.ports.restRecipient,
          method: 'GET',
          path: `/key-capsules/${await storedCapsuleId(server)}`,
          client: server.pki.clients.ecP256,
        }),
      grpc: async (server, { recipient }) =>
        grpcGetCapsule(recipient, { transactionId: await storedCapsuleId(server) }),
    },
  },
  {
    operation: 'GetKeyCapsule',
    outcome: 'not_found',
    send: {
      rest: (server) =>
        https(server.pki, {
          port: server.ports.restRecipient,
          method: 'GET',
          path: `/key-capsules/${UNKNOWN_CAPSULE}`,
          client: server.pki.clients.ecP256,
        }),
      grpc: (_server, { recipient }) => ignoreFailure(grpcGetCapsule(recipient, { transactionId: UNKNOWN_CAPSULE })),
    },
  },
  {
    operation: 'CreateKeyShare',
    outcome: 'ok',
    send: {
      rest: (server) => restDriver(server).store(Buffer.alloc(32, 1), recipientOf(server.pki.auth.rsa2048)),
      grpc: (server, { shareSender, shareRecipient }) =>
        grpcDriver(shareSender, shareRecipient).store(Buffer.alloc(32, 1), recipientOf(server.pki.auth.rsa2048)),
    },
  },
  {
    operation: 'CreateKeyShare',
    outcome: 'invalid_argument',
    send: {
      rest: (server) =>
        https(server.pki, {
          port: server.sharePorts.rest,
          method: 'POST',
          path: '/key-shares',
          headers: JSON_HEADERS,
          body: '{}',
        }),
      grpc: (_server, { shareSender }) => ignoreFailure(grpcCreateShare(shareSender, {})),
    },
  },
  {
    operation: 'CreateNonce',
    outcome: 'ok',
    send: {
      rest: async (server) => restDriver(server).nonce(await storedShareId(server)),
      grpc: async (server, { shareSender, shareRecipient }) =>
        grpcDriver(shareSender, shareRecipient).nonce(await storedShareId(server)),
    },
  },
  {
    operation: 'CreateNonce',
    outcome: 'not_found',
    send: {
      rest: (server) =>
        https(server.pki, {
          port: server.sharePorts.rest,
          method: 'POST',
          path: `/key-shares/${unknownShareId()}/nonce`,
        }),
      grpc: (_server, { shareSender, shareRecipient }) =>
        ignoreFailure(grpcDriver(shareSender, shareRecipient).nonce(unknownShareId())),
    },
  },
  {
    operation: 'GetKeyShare',
    outcome: 'ok',
    send: {
      rest: async (server) => {
        const { shareId, ticket, x5c } = await ticketedShare(server);
        return restGet(server, shareId, ticketHeaders(ticket, x5c));
      },
      grpc: async (server, { shareSender, shareRecipient }) => {
        const { shareId, ticket, x5c } = await ticketedShare(server);
        return grpcDriver(shareSender, shareRecipient).fetch(shareId, ticket, x5c);
      },
    },
  },
  {
    operation: 'GetKeyShare',
    outcome: 'unauthenticated',
    send: {
      rest: async (server) => {
        const { shareId, x5c } = await ticketedShare(server);
        return restGet(server, shareId, ticketHeaders('not.a.ticket~', x5c));
      },
      grpc: async (server, { shareSender, shareRecipient }) => {
        const { shareId, x5c } = await ticketedShare(server);
        return ignoreFailure(grpcDriver(shareSender, shareRecipient).fetch(shareId, 'not.a.ticket~', x5c));
      },
    },
  },
];

/** The series of `cdoc2_requests_total` and their values, from the management listener's /metrics. */
async function requestCounters(server: TestServer): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.app.managementPort ?? 0}/metrics`)).text();
  const series = text.split('\n').filter((line) => line.startsWith('cdoc2_requests_total{'));
  return new Map(series.map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.split(' ').pop())]));
}

interface Observed {
  readonly line: Record<string, unknown>;
  /** The labels of the one counter series the request moved. */
  readonly series: readonly string[];
}

/**
 * README "Health, metrics, logs": both transports run one request pipeline, so an operation has one name, one
 * outcome code, one set of log fields and one set of metric labels whichever wire carried it.
 */
describe('one request pipeline for REST and gRPC', () => {
  const lines: Array<Record<string, unknown>> = [];
  let server: TestServer;
  let clients: Clients;

  before(async () => {
    server = await startTestServer(
      { log: { level: 'info' } },
      {
        logDestination: new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString('utf8').split('\n')) {
              if (line !== '') {
                lines.push(JSON.parse(line) as Record<string, unknown>);
              }
            }
            done();
          },
        }),
      },
    );
    clients = {
      sender: senderClient(server.pki, server.ports.grpcSender),
      recipient: recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients.ecP256),
      shareSender: shareSenderClient(server.pki, server.sharePorts.grpc),
      shareRecipient: shareRecipientClient(server.pki, server.sharePorts.grpc),
    };
  });
  after(async () => {
    for (const client of [clients.sender, clients.recipient, clients.shareSender, clients.shareRecipient]) {
      client.close();
    }
    await server.close();
  });

  /** Sends one request, after its set-up, and returns its request log line and the counter series it moved. */
  async function observe(operation: OperationName, send: () => Promise<unknown>): Promise<Observed> {
    const before = await requestCounters(server);
    const first = lines.length;
    await send();
    const mine = (): Array<Record<string, unknown>> =>
      lines.slice(first).filter((line) => line['msg'] === 'request' && line['operation'] === operation);
    // The log line is written when the answer has been handed to the socket: allow the client to be faster.
    for (let waited = 0; mine().length === 0 && waited < 2000; waited += 20) {
      await sleep(20);
    }
    const after = await requestCounters(server);
    const moved = [...after].filter(
      ([key, value]) => key.includes(`operation="${operation}"`) && value !== (before.get(key) ?? 0),
    );
    const ownLines = mine();
    expect(ownLines, `${operation}: one request log line`).to.have.length.greaterThan(0);
    const line = ownLines[ownLines.length - 1] ?? {};
    return { line, series: moved.map(([key]) => key) };
  }

  it('describes every operation by a case that succeeds and one that fails', () => {
    expect(new Set(CASES.map((entry) => entry.operation))).to.deep.equal(new Set(OPERATION_NAMES));
    for (const name of OPERATION_NAMES) {
      const outcomes = CASES.filter((entry) => entry.operation === name).map((entry) => entry.outcome);
      expect(outcomes, name).to.include('ok').and.to.have.length.greaterThan(1);
    }
  });

  for (const { operation, outcome, send } of CASES) {
    it(`${operation} ending ${outcome}: the same operation, outcome, log fields and metric labels on both`, async () => {
      const seen = {} as Record<Transport, Observed>;
      for (const transport of ['rest', 'grpc'] as const) {
        seen[transport] = await observe(operation, () => send[transport](server, clients));
        const { line, series } = seen[transport];
        expect(line, transport).to.include({ transport, operation, outcome });
        expect(line['requestId'], transport).to.match(/^[0-9a-f-]{36}$/);
        expect(line['durationMs'], transport).to.be.a('number');
        expect(
          Object.keys(line).every((key) =>
            ['level', 'time', 'service', 'server', 'msg', ...REQUEST_LOG_FIELDS].includes(key),
          ),
        ).to.equal(true);
        // Set-up requests of other operations do not count here: exactly this request's series moved.
        expect(series, transport).to.deep.equal([
          `cdoc2_requests_total{operation="${operation}",transport="${transport}",outcome="${outcome}"}`,
        ]);
      }
      const fieldsOf = (line: Record<string, unknown>): string[] => Object.keys(line).sort();
      expect(fieldsOf(seen.rest.line)).to.deep.equal(fieldsOf(seen.grpc.line));
      for (const field of ['listener', 'operation', 'outcome', 'server', 'msg']) {
        expect(seen.rest.line[field], field).to.equal(seen.grpc.line[field]);
      }
      expect(typeof seen.rest.line['status']).to.equal('number');
      expect(typeof seen.grpc.line['status']).to.equal('string');
      const labels = (key: string | undefined): string => String(key).replace(/transport="\w+"/, 'transport=*');
      expect(labels(seen.rest.series[0])).to.equal(labels(seen.grpc.series[0]));
    });
  }
});
