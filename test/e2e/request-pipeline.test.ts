import { logSink } from '../support/log-sink.js';
import { Metadata, status } from '@grpc/grpc-js';
import { createConnection } from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import { CAPSULE_TRANSPORTS, type CapsuleDriver } from '../support/capsule-drivers.js';
import { newNonce, SHARE_TRANSPORTS, storeShare, type ShareDriver } from '../support/share-drivers.js';
import {
  call,
  https,
  recipientClient,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';
import { expectOk } from '../support/transport-outcome.js';
import { issueShare, recipientOf, unknownShareId } from './shares-helpers.js';
import { OPERATION_NAMES, type OperationName } from '../../src/transport/operations.js';
import { REQUEST_LOG_FIELDS } from '../../src/transport/request-pipeline.js';

/** The drivers of every operation over one transport (test/support/*-drivers.ts). */
interface Drivers {
  readonly transport: 'rest' | 'grpc';
  readonly capsules: CapsuleDriver;
  readonly shares: ShareDriver;
}

/** Ids made ready over REST before the observed request (a capsule, a share, a ticket). */
type Prepared = Readonly<Record<string, string>>;

interface Case {
  readonly operation: OperationName;
  readonly outcome: string;
  /** Set-up, not observed: always over REST. */
  readonly prepare?: (server: TestServer, setUp: Drivers) => Promise<Prepared>;
  /** The one request observed, over the transport of `drivers`. */
  readonly send: (server: TestServer, drivers: Drivers, prepared: Prepared) => Promise<unknown>;
}

const UNKNOWN_CAPSULE = 'KC' + '0'.repeat(32);

const share = (server: TestServer, setUp: Drivers): Promise<string> =>
  storeShare(setUp.shares, Buffer.alloc(32, 2), recipientOf(server.pki.auth.rsa2048));

/** Each operation once succeeding and once failing; one function drives both transports. */
const CASES: readonly Case[] = [
  {
    operation: 'CreateKeyCapsule',
    outcome: 'ok',
    send: (server, { capsules }) => capsules.create(capsuleFor(server.pki.clients.ecP256)),
  },
  {
    operation: 'CreateKeyCapsule',
    outcome: 'invalid_argument',
    // The recipient key one byte short for its curve: the domain refuses it on either wire.
    send: (server, { capsules }) => {
      const capsule = capsuleFor(server.pki.clients.ecP256);
      return capsules.create({ ...capsule, recipientId: capsule.recipientId.subarray(1) });
    },
  },
  {
    operation: 'GetKeyCapsule',
    outcome: 'ok',
    prepare: async (server, setUp) => ({
      id: expectOk(await setUp.capsules.create(capsuleFor(server.pki.clients.ecP256))).transactionId,
    }),
    send: (_server, { capsules }, { id }) => capsules.get(String(id), 'ecP256'),
  },
  {
    operation: 'GetKeyCapsule',
    outcome: 'not_found',
    send: (_server, { capsules }) => capsules.get(UNKNOWN_CAPSULE, 'ecP256'),
  },
  {
    operation: 'CreateKeyShare',
    outcome: 'ok',
    send: (server, { shares }) => shares.create(Buffer.alloc(32, 1), recipientOf(server.pki.auth.rsa2048)),
  },
  {
    operation: 'CreateKeyShare',
    outcome: 'invalid_argument',
    send: (_server, { shares }) => shares.create(Buffer.alloc(32, 1), 'no-scheme'),
  },
  {
    operation: 'CreateNonce',
    outcome: 'ok',
    prepare: async (server, setUp) => ({ id: await share(server, setUp) }),
    send: (_server, { shares }, { id }) => shares.createNonce(String(id)),
  },
  {
    operation: 'CreateNonce',
    outcome: 'not_found',
    send: (_server, { shares }) => shares.createNonce(unknownShareId()),
  },
  {
    operation: 'GetKeyShare',
    outcome: 'ok',
    prepare: async (server, setUp) => {
      const signer = server.pki.auth.rsa2048;
      const issued = await issueShare(setUp.shares, recipientOf(signer));
      return { id: issued.shareId, ticket: createAuthTicket({ signer, urls: [issued.url] }).presentationFor(0) };
    },
    send: (server, { shares }, { id, ticket }) =>
      shares.get(String(id), String(ticket), oneLinePem(server.pki.auth.rsa2048)),
  },
  {
    operation: 'GetKeyShare',
    outcome: 'unauthenticated',
    prepare: async (server, setUp) => {
      const id = await share(server, setUp);
      await newNonce(setUp.shares, id);
      return { id };
    },
    send: (server, { shares }, { id }) => shares.get(String(id), 'not.a.ticket~', oneLinePem(server.pki.auth.rsa2048)),
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
  /** The counter series the request moved. */
  readonly series: readonly string[];
}

/** Fields pino adds to every line, and the server's child-logger binding. */
const BASE_FIELDS = ['level', 'time', 'service', 'server', 'msg'];

/**
 * README "Health, metrics, logs": both transports run one request pipeline, so an operation has one name, one
 * outcome code, one set of log fields and one set of metric labels whichever wire carried it.
 */
describe('one request pipeline for REST and gRPC', () => {
  const lines: Array<Record<string, unknown>> = [];
  let server: TestServer;
  let rest: Drivers;
  let grpc: Drivers;

  before(async () => {
    server = await startTestServer(
      { log: { level: 'info' } },
      {
        logDestination: logSink((line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
      },
    );
    const [restCapsules, grpcCapsules] = CAPSULE_TRANSPORTS.map((transport) => transport.driver(server));
    const [restShares, grpcShares] = SHARE_TRANSPORTS.map((transport) => transport.driver(server));
    if (!restCapsules || !grpcCapsules || !restShares || !grpcShares) {
      throw new Error('a transport has no driver');
    }
    rest = { transport: 'rest', capsules: restCapsules, shares: restShares };
    grpc = { transport: 'grpc', capsules: grpcCapsules, shares: grpcShares };
  });
  after(async () => {
    for (const drivers of [rest, grpc]) {
      drivers.capsules.close();
      drivers.shares.close();
    }
    await server.close();
  });

  /** Runs one case over one transport and returns its request log line and the counter series it moved. */
  async function observe({ operation, prepare, send }: Case, drivers: Drivers): Promise<Observed> {
    const prepared = prepare ? await prepare(server, rest) : {};
    const before = await requestCounters(server);
    const first = lines.length;
    await send(server, drivers, prepared);
    const mine = (): Array<Record<string, unknown>> =>
      lines.slice(first).filter((line) => line['msg'] === 'request' && line['operation'] === operation);
    // The log line is written when the answer has been handed to the socket: the client may read it sooner.
    for (let waited = 0; mine().length === 0 && waited < 2000; waited += 20) {
      await sleep(20);
    }
    const after = await requestCounters(server);
    const moved = [...after].filter(([key, value]) => value !== (before.get(key) ?? 0)).map(([key]) => key);
    const own = mine();
    expect(own, `${drivers.transport} ${operation}: one request log line`).to.have.length(1);
    return { line: own[0] ?? {}, series: moved };
  }

  it('describes every operation by a case that succeeds and one that fails', () => {
    expect(new Set(CASES.map((entry) => entry.operation))).to.deep.equal(new Set(OPERATION_NAMES));
    for (const name of OPERATION_NAMES) {
      const outcomes = CASES.filter((entry) => entry.operation === name).map((entry) => entry.outcome);
      expect(outcomes, name).to.include('ok').and.to.have.length.greaterThan(1);
    }
  });

  it('records a request its client abandoned when abandoned: REST cancelled (499), gRPC deadline_exceeded', async () => {
    const id = expectOk(await rest.capsules.create(capsuleFor(server.pki.clients.ecP256))).transactionId;
    const first = lines.length;
    // A real wait in the database: the capsule table write-locked by another session holds the lookup.
    const locker = await createConnection(String(server.config.database.url));
    await locker.query('LOCK TABLES key_capsules WRITE');
    try {
      const restGet = https(server.pki, {
        port: server.ports.restRecipient,
        method: 'GET',
        path: `/key-capsules/${id}`,
        client: server.pki.clients.ecP256,
        signal: AbortSignal.timeout(300),
      });
      const client = recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients.ecP256);
      const grpcGet = call((callback) =>
        client.getKeyCapsule({ transactionId: id }, new Metadata(), { deadline: Date.now() + 300 }, callback),
      );
      const [restEnd, grpcEnd] = await Promise.allSettled([restGet, grpcGet]);
      client.close();
      expect(restEnd.status, 'the REST client gave up').to.equal('rejected');
      expect((grpcEnd as PromiseRejectedResult).reason).to.include({ code: status.DEADLINE_EXCEEDED });
      const abandoned = (): Array<Record<string, unknown>> =>
        lines.slice(first).filter((line) => line['msg'] === 'request' && line['operation'] === 'GetKeyCapsule');
      for (let waited = 0; abandoned().length < 2 && waited < 2000; waited += 20) {
        await sleep(20);
      }
      // Recorded while the lookup still waits: when the client left, not when the work ends.
      expect(
        abandoned().map(({ transport, outcome, status: code }) => ({ transport, outcome, code })),
      ).to.have.deep.members([
        { transport: 'rest', outcome: 'cancelled', code: 499 },
        { transport: 'grpc', outcome: 'deadline_exceeded', code: 'DEADLINE_EXCEEDED' },
      ]);
    } finally {
      await locker.query('UNLOCK TABLES');
      await locker.end();
    }
    // The lookups then finish; their answers are dropped and nothing more is recorded for them.
    await sleep(300);
    expect(
      lines.slice(first).filter((line) => line['msg'] === 'request' && line['operation'] === 'GetKeyCapsule'),
    ).to.have.length(2);
  });

  it('records a gRPC call refused for its metadata before any handler: one line and one count, outcome header_fields_too_large', async () => {
    const client = senderClient(server.pki, server.ports.grpcSender);
    const metadata = new Metadata();
    metadata.set('x-big', 'a'.repeat(20 * 1024));
    const before = await requestCounters(server);
    const first = lines.length;
    try {
      const refused = call((callback) =>
        client.createKeyCapsule(
          { capsule: protoCapsule(capsuleFor(server.pki.clients.ecP256)), requestedExpiryTime: undefined },
          metadata,
          callback,
        ),
      );
      expect(
        await refused.then(
          () => 'OK',
          (error: { code: number }) => status[error.code],
        ),
      ).to.equal('RESOURCE_EXHAUSTED');
    } finally {
      client.close();
    }
    const mine = (): Array<Record<string, unknown>> => lines.slice(first).filter((line) => line['msg'] === 'request');
    for (let waited = 0; mine().length === 0 && waited < 2000; waited += 20) {
      await sleep(20);
    }
    const after = await requestCounters(server);
    const moved = [...after].filter(([key, value]) => value !== (before.get(key) ?? 0));
    expect(mine()).to.have.length(1);
    expect(mine()[0]).to.include({
      transport: 'grpc',
      listener: 'capsules-sender',
      operation: 'CreateKeyCapsule',
      outcome: 'header_fields_too_large',
      status: 'RESOURCE_EXHAUSTED',
    });
    expect(
      Object.keys(mine()[0] ?? {}).filter((key) => ![...BASE_FIELDS, ...REQUEST_LOG_FIELDS].includes(key)),
    ).to.deep.equal([]);
    // Exactly this series moved, by one: the outcome REST records for its 431 (README "Health, metrics, logs").
    const series =
      'cdoc2_requests_total{operation="CreateKeyCapsule",transport="grpc",outcome="header_fields_too_large"}';
    expect(moved).to.deep.equal([[series, (before.get(series) ?? 0) + 1]]);
  });

  for (const entry of CASES) {
    const { operation, outcome } = entry;
    it(`${operation} ending ${outcome}: the same operation, outcome, log fields and metric labels on both`, async () => {
      const seen: Partial<Record<'rest' | 'grpc', Observed>> = {};
      for (const drivers of [rest, grpc]) {
        const { transport } = drivers;
        const observed = await observe(entry, drivers);
        seen[transport] = observed;
        expect(observed.line, transport).to.include({ transport, operation, outcome });
        expect(observed.line['requestId'], transport).to.match(/^[0-9a-f-]{36}$/);
        expect(observed.line['durationMs'], transport).to.be.a('number');
        const unexpected = Object.keys(observed.line).filter(
          (key) => ![...BASE_FIELDS, ...REQUEST_LOG_FIELDS].includes(key),
        );
        expect(unexpected, transport).to.deep.equal([]);
        // Exactly this request's series moved, by one.
        expect(observed.series, transport).to.deep.equal([
          `cdoc2_requests_total{operation="${operation}",transport="${transport}",outcome="${outcome}"}`,
        ]);
      }
      const [viaRest, viaGrpc] = [seen.rest?.line ?? {}, seen.grpc?.line ?? {}];
      expect(Object.keys(viaRest).sort()).to.deep.equal(Object.keys(viaGrpc).sort());
      for (const field of ['listener', 'operation', 'outcome', 'server', 'msg']) {
        expect(viaRest[field], field).to.equal(viaGrpc[field]);
      }
      // `status` is each transport's own code: an HTTP status number, a gRPC status name.
      expect(viaRest['status']).to.be.a('number');
      expect(viaGrpc['status']).to.be.a('string');
    });
  }
});
