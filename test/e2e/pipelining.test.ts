import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { expect } from 'chai';
import { credentials } from '@grpc/grpc-js';
import { CreateKeyCapsuleRequest } from '../../gen/cdoc2/capsules/v1/capsules.js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  type HealthCheckResponse,
} from '../../gen/grpc/health/v1/health.js';
import { REFUSAL_LOG_PERIOD_MS } from '../../src/transport/connection-limits.js';
import { connectTls, establishedServerSockets, pipeline } from '../support/abuse-clients.js';
import { runAttack } from '../support/attackers.js';
import type { AttackPlan, AttackResult } from '../support/attacker-process.js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import { eventually, metricValue, sleep } from '../support/observe.js';
import { logSink } from '../support/log-sink.js';
import { call, https, startTestServer, type TestServer } from '../support/test-server.js';

/** The bound: a request on another connection is answered within this while a client floods. */
const PROBE_BOUND_MS = 200;
/** How long each flood lasts; its attackers reconnect and attack again until then. */
const FLOOD_MS = 6000;

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
};

/** Runs `probe` every 20 ms while `flood` runs (after its first 300 ms, when the attackers are connected). */
async function probeDuring(
  flood: Promise<AttackResult>,
  probe: () => Promise<number>,
): Promise<{ latencies: number[]; result: AttackResult }> {
  let running = true;
  const settled = flood.finally(() => (running = false));
  const latencies: number[] = [];
  await sleep(300);
  while (running) {
    latencies.push(await probe());
    await sleep(20);
  }
  return { latencies, result: await settled };
}

/**
 * Half the bound on the median, the bound itself on the 90th percentile, and every probe within 2 s: on a
 * shared two-core machine under load, some probes wait for a CPU or a garbage collection whatever the server does
 * (measured at load average 7 to 9: p50 2 to 9 ms, p90 well under p95, p95 155 to 184 ms; README "Limits").
 */
function expectResponsive(latencies: readonly number[], result: AttackResult): void {
  const seen = `probe latencies (ms): ${latencies.map(Math.round).join(' ')}; attackers saw ${JSON.stringify(result)}`;
  expect(latencies.length, seen).to.be.greaterThan(20);
  expect(percentile(latencies, 50), seen).to.be.below(PROBE_BOUND_MS / 2);
  expect(percentile(latencies, 90), seen).to.be.below(PROBE_BOUND_MS);
  expect(Math.max(...latencies), seen).to.be.below(2000);
}

/**
 * Floods with the default limits (README "Limits": pipelining, gRPC bursts, stream floods), each from a process of
 * its own on loopback, bounded in time, while a probe asks for a stored capsule on a connection of its own.
 */
describe('pipelining and bursts: a flooding connection does not starve the others', function () {
  this.timeout(60_000);
  let server: TestServer;
  let ca: string;
  let transactionId: string;
  const logLines: string[] = [];

  before(async () => {
    server = await startTestServer(
      { log: { level: 'warn' } },
      { logDestination: logSink((line) => logLines.push(line)) },
    );
    ca = readFileSync(server.pki.caFile, 'utf8');
    const stored = await https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { 'content-type': 'application/json' },
      body: capsuleJson(capsuleFor(server.pki.clients.ecP256)),
    });
    expect(stored.status).to.equal(201);
    transactionId = String(stored.headers.location).split('/').pop() ?? '';
  });
  after(() => server.close());

  const recipient = () => server.pki.clients.ecP256;
  const plan = (attack: AttackPlan['attack'], port: number): AttackPlan => ({
    attack,
    port,
    ca,
    cert: recipient().certPem,
    key: recipient().keyPem,
    connections: 4,
    durationMs: FLOOD_MS,
  });

  /** GET of the stored capsule over a keep-alive connection of its own, as a recipient would. */
  const restProbe = () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, cert: recipient().certPem, key: recipient().keyPem });
    const probe = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const started = performance.now();
        httpsRequest(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: server.ports.restRecipient,
            path: `/key-capsules/${transactionId}`,
            agent,
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200
                ? resolve(performance.now() - started)
                : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        )
          .on('error', reject)
          .end();
      });
    return { probe, close: () => agent.destroy() };
  };

  /**
   * A health check (grpc.health.v1) on a channel of its own to the listener under attack: grpc-js, TLS and the event
   * loop the flood loads, without the database. (A CreateKeyCapsule burst is also up to 100 inserts per connection:
   * a probe that queued behind them in the database would measure its write capacity, not the event loop.)
   */
  const grpcProbe = (port: number) => {
    const client = new HealthClient(`127.0.0.1:${port}`, credentials.createSsl(Buffer.from(ca)), {
      'grpc.ssl_target_name_override': 'localhost',
    });
    const probe = async (): Promise<number> => {
      const started = performance.now();
      const answer = await call<HealthCheckResponse>((callback) => client.check({ service: '' }, callback));
      expect(answer.status).to.equal(ServingStatus.SERVING);
      return performance.now() - started;
    };
    return { probe, close: () => client.close() };
  };

  /** The liveness probe of the management listener: the same event loop, no TLS, no database. */
  const liveness = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      request(
        { host: '127.0.0.1', port: server.app.managementPort ?? 0, path: '/health/live', agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - started));
        },
      )
        .on('error', reject)
        .end();
    });

  /** Warms the probe's connection and the server's code paths, as in production. */
  const warm = async (probe: () => Promise<number>): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      await probe();
    }
  };

  it(`answers a capsule GET on another connection within ${PROBE_BOUND_MS} ms while four clients pipeline 2,000 GETs each (mutual TLS)`, async () => {
    const { probe, close } = restProbe();
    try {
      await warm(probe);
      const firstLine = logLines.length;
      const flood = runAttack(
        plan(
          { kind: 'pipeline', requests: 2000, path: `/key-capsules/KC${'0'.repeat(32)}` },
          server.ports.restRecipient,
        ),
      );
      const { latencies, result } = await probeDuring(flood, probe);
      expectResponsive(latencies, result);
      // No attacking connection got further than the pipelining bound: 4 in progress and 16 waiting (README "Limits").
      expect(result['404'] ?? 0, JSON.stringify(result)).to.be.at.most((result['connections'] ?? 0) * 20);
      const closures = logLines
        .slice(firstLine)
        .map((line) => JSON.parse(line) as { msg: string; count?: number })
        .filter((line) => line.msg === 'connections closed for pipelining too deep');
      expect(closures.length, JSON.stringify(result)).to.be.greaterThan(0);
      const closed = await metricValue(
        server,
        'cdoc2_connections_closed_total{listener="capsules-recipient",reason="pipelining"}',
      );
      expect(closed, JSON.stringify(result)).to.be.greaterThan(0);
    } finally {
      close();
    }
  });

  it(`answers a liveness probe within ${PROBE_BOUND_MS} ms while four clients pipeline 2,000 GETs each`, async () => {
    await warm(liveness);
    const flood = runAttack(
      plan({ kind: 'pipeline', requests: 2000, path: `/key-capsules/KC${'0'.repeat(32)}` }, server.ports.restRecipient),
    );
    const { latencies, result } = await probeDuring(flood, liveness);
    expectResponsive(latencies, result);
  });

  it(`answers a gRPC health check on another connection within ${PROBE_BOUND_MS} ms while four clients send bursts of 2,000 CreateKeyCapsule calls`, async () => {
    const { probe, close } = grpcProbe(server.ports.grpcSender);
    try {
      await warm(probe);
      const body = CreateKeyCapsuleRequest.encode({
        capsule: protoCapsule(capsuleFor(recipient())),
        requestedExpiryTime: undefined,
      }).finish();
      const flood = runAttack(
        plan(
          {
            kind: 'grpc-burst',
            calls: 2000,
            path: '/cdoc2.capsules.v1.KeyCapsuleSenderService/CreateKeyCapsule',
            bodyHex: Buffer.from(body).toString('hex'),
          },
          server.ports.grpcSender,
        ),
      );
      const { latencies, result } = await probeDuring(flood, probe);
      expectResponsive(latencies, result);
      // At most limits.grpc.maxConcurrentStreams (100) calls of a burst are served; the rest are refused.
      expect(result['answered'] ?? 0, JSON.stringify(result)).to.be.at.most((result['connections'] ?? 0) * 100);
      expect(result['refused'] ?? 0, JSON.stringify(result)).to.be.greaterThan(0);
    } finally {
      close();
    }
  });

  it(`answers a gRPC health check on another connection within ${PROBE_BOUND_MS} ms during a stream flood (4 connections x 5,000 streams)`, async () => {
    const { probe, close } = grpcProbe(server.ports.grpcSender);
    try {
      await warm(probe);
      const flood = runAttack(plan({ kind: 'streams', streams: 5000 }, server.ports.grpcSender));
      const { latencies, result } = await probeDuring(flood, probe);
      expectResponsive(latencies, result);
    } finally {
      close();
    }
  });
});

/** A server whose REST limits let one connection pipeline without end, and a stored capsule of the largest kind. */
async function startPipeliningServer(
  rest: { maxRequestsPerConnection: number },
  logLines: string[],
): Promise<{ server: TestServer; ca: string; path: string }> {
  const server = await startTestServer(
    {
      log: { level: 'info' },
      limits: {
        rest: {
          headersTimeout: 'PT1S',
          requestTimeout: 'PT2S',
          maxRequestsPerConnection: rest.maxRequestsPerConnection,
          maxPipelinedRequestsPerConnection: 100_000,
        },
      },
    },
    { logDestination: logSink((line) => logLines.push(line)) },
  );
  const stored = await https(server.pki, {
    port: server.ports.restSender,
    method: 'POST',
    path: '/key-capsules',
    headers: { 'content-type': 'application/json' },
    body: capsuleJson(capsuleFor(server.pki.clients.rsa4096)),
  });
  expect(stored.status).to.equal(201);
  return { server, ca: readFileSync(server.pki.caFile, 'utf8'), path: String(stored.headers.location) };
}

/** The statuses of the HTTP/1.1 answers in `text`, in order. */
const statusesOf = (text: string): number[] =>
  [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));

/** The log lines of answered GetKeyCapsule requests. */
const answeredGets = (logLines: readonly string[]): number =>
  logLines.filter((line) => line.includes('"operation":"GetKeyCapsule"')).length;

describe('pipelining: a client that does not read its answers (backpressure)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let ca: string;
  let path: string;
  const logLines: string[] = [];
  before(async () => {
    ({ server, ca, path } = await startPipeliningServer({ maxRequestsPerConnection: 1_000_000 }, logLines));
  });
  after(() => server.close());

  const connect = () => {
    const client = server.pki.clients.rsa4096;
    return connectTls({ port: server.ports.restRecipient, ca, cert: client.certPem, key: client.keyPem }, ['http/1.1']);
  };
  const get = (count: number): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`.repeat(count);

  it('answers 2,000 pipelined GETs in order after the client read nothing for a second', async () => {
    const socket = await connect();
    try {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.pause();
      socket.write(get(2000));
      await sleep(1000);
      socket.resume();
      const deadline = Date.now() + 30_000;
      while (statusesOf(text).length < 2000 && Date.now() < deadline && !socket.destroyed) {
        await sleep(50);
      }
      expect(statusesOf(text)).to.deep.equal(Array.from({ length: 2000 }, () => 200));
    } finally {
      socket.destroy();
    }
  });

  it('closes a connection whose client stopped reading its answers, requestTimeout after nothing moved on it', async () => {
    const baseline = establishedServerSockets(server.ports.restRecipient);
    const socket = await connect();
    // The client never reads: the answers fill the kernel's buffers (megabytes on loopback), then the server's.
    socket.pause();
    try {
      // It sends 16 more GETs whenever the last ones were all answered, until the server stops answering.
      const first = answeredGets(logLines);
      let sent = 0;
      let stalledAt: number | undefined;
      const started = Date.now();
      while (stalledAt === undefined && Date.now() - started < 40_000) {
        socket.write(get(16));
        sent += 16;
        let answered = answeredGets(logLines) - first;
        let movedAt = Date.now();
        while (answered < sent && stalledAt === undefined) {
          await sleep(10);
          const now = answeredGets(logLines) - first;
          if (now !== answered) {
            answered = now;
            movedAt = Date.now();
          } else if (Date.now() - movedAt > 1500) {
            stalledAt = Date.now();
          }
        }
      }
      expect(stalledAt, `sent ${sent}, nothing stopped it`).to.not.equal(undefined);
      // Nothing moves on the connection any more: it is closed after limits.rest.requestTimeout (PT2S).
      const closed = await eventually(
        () => establishedServerSockets(server.ports.restRecipient) <= baseline,
        2000 + 5000,
      );
      expect(closed, `${Date.now() - (stalledAt ?? 0)} ms after the last answer`).to.equal(true);
      expect(
        logLines.filter((line) => line.includes('connections closed for pipelining too deep')),
        'closed for the timeout, not for its depth',
      ).to.deep.equal([]);
    } finally {
      socket.destroy();
    }
  });
});

describe('pipelining: a connection Node stops reading (HPE_PAUSED)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let ca: string;
  let path: string;
  const logLines: string[] = [];
  before(async () => {
    // 100 requests per connection: Node answers the ones past it 503 itself and stops reading when they pile up.
    ({ server, ca, path } = await startPipeliningServer({ maxRequestsPerConnection: 100 }, logLines));
  });
  after(() => server.close());

  it('closes it without writing a 400 ahead of the answers still owed, and logs it', async () => {
    const client = server.pki.clients.rsa4096;
    const statuses = await pipeline({
      port: server.ports.restRecipient,
      ca,
      cert: client.certPem,
      key: client.keyPem,
      requests: 2000,
      path,
      timeoutMs: 10_000,
    });
    // Whatever was answered was answered in order (before, a 400 came first, as the answer to the first GET).
    expect(statuses.filter((status) => status !== 200)).to.deep.equal([]);
    await sleep(REFUSAL_LOG_PERIOD_MS + 300);
    const closures = logLines
      .map((line) => JSON.parse(line) as { msg: string; count?: number })
      .filter((line) => line.msg === 'connections closed for pipelining too deep');
    expect(closures.map((line) => line.count)).to.deep.equal([1]);
  });
});
