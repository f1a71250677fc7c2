import { readFileSync } from 'node:fs';
import { constants } from 'node:http2';
import { eventually, metricValue, sleep } from '../support/observe.js';
import { logSink } from '../support/log-sink.js';
import type { TLSSocket } from 'node:tls';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  COMPRESSION_ERROR,
  connectTls,
  CREATE_CAPSULE_PATH,
  establishedServerSockets,
  FRAME,
  oneLargeHeaderField,
  openHttp2,
  openStreams,
  rapidReset,
  REFUSED_STREAM,
  type TlsClientOptions,
} from '../support/abuse-clients.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { REFUSAL_LOG_PERIOD_MS } from '../../src/transport/connection-limits.js';
import { RESET_BURST } from '../../src/transport/grpc/reset-guard.js';
import { FAILED_STREAM_SWEEP_MS } from '../../src/transport/grpc/failed-stream-sweep.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  https,
  recipientClient,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

const MAX_STREAMS = 10;
const MAX_CONNECTIONS = 20;

/** Resolves with how long the socket stayed open, or `ms` if it still is. */
const closedWithin = (socket: { once(event: 'close', listener: () => void): unknown }, ms: number): Promise<number> =>
  new Promise((resolve) => {
    const started = Date.now();
    const timer = setTimeout(() => resolve(ms), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });

/**
 * Hardening under abuse (README "Limits"): a server with small limits, attacked on loopback by misbehaving clients
 * that are bounded in count and time.
 */
describe('abuse: connection, stream and pipelining limits', function () {
  this.timeout(120_000);
  let server: TestServer;
  const logLines: string[] = [];
  let ca: Buffer;

  before(async () => {
    server = await startTestServer(
      {
        log: { level: 'warn' },
        limits: {
          maxConnectionsPerListener: MAX_CONNECTIONS,
          handshakeTimeout: 'PT2S',
          grpc: {
            maxConcurrentStreams: MAX_STREAMS,
            maxConnectionIdle: 'PT1S',
          },
          rest: { headersTimeout: 'PT1S', requestTimeout: 'PT2S', keepAliveTimeout: 'PT1S' },
        },
      },
      {
        logDestination: logSink((line) => logLines.push(line)),
      },
    );
    ca = readFileSync(server.pki.caFile);
  });
  after(() => server.close());

  const tls = (port: number, client?: IssuedCertificate): TlsClientOptions =>
    client ? { port, ca, cert: client.certPem, key: client.keyPem } : { port, ca };
  const errorLines = (): string[] => logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

  it(`refuses the stream past ${MAX_STREAMS} concurrent streams on one connection, and keeps the others`, async () => {
    const { socket, frames } = await openStreams({ ...tls(server.ports.grpcSender), streams: MAX_STREAMS + 1 });
    try {
      const lastStream = 2 * MAX_STREAMS + 1;
      const refused = await eventually(
        () => frames().some((f) => f.type === FRAME.RST_STREAM && f.streamId === lastStream),
        5000,
      );
      expect(refused, JSON.stringify(frames())).to.equal(true);
      // Up to that refusal, no other stream was reset; the refusal says REFUSED_STREAM (safe to retry elsewhere).
      const upToRefusal = frames().slice(
        0,
        frames().findIndex((f) => f.type === FRAME.RST_STREAM && f.streamId === lastStream) + 1,
      );
      const resets = upToRefusal.filter((f) => f.type === FRAME.RST_STREAM);
      expect(resets).to.deep.equal([{ type: FRAME.RST_STREAM, streamId: lastStream, code: REFUSED_STREAM }]);
    } finally {
      socket.destroy();
    }
  });

  it('closes an idle gRPC connection after maxConnectionIdle', async () => {
    const connection = await openHttp2(tls(server.ports.grpcSender));
    try {
      expect(await closedWithin(connection.session, 8000)).to.be.below(8000);
    } finally {
      connection.drop();
    }
  });

  it('closes a REST connection that sends nothing after headersTimeout', async () => {
    const socket = await connectTls(tls(server.ports.restSender), ['http/1.1']);
    socket.resume();
    try {
      expect(await closedWithin(socket, 8000)).to.be.below(8000);
    } finally {
      socket.destroy();
    }
  });

  for (const [listener, portOf, alpn] of [
    ['capsules-sender', () => server.ports.restSender, ['http/1.1']],
    ['capsules-grpc-sender', () => server.ports.grpcSender, ['h2']],
  ] as const) {
    it(`refuses connections past ${MAX_CONNECTIONS} on ${listener}, logs and counts them, and accepts again once they are gone`, async () => {
      const port = portOf();
      const counted = () => metricValue(server, `cdoc2_connections_refused_total{listener="${listener}"}`);
      const before = (await counted()) || 0; // no series before the first refusal
      const firstLine = logLines.length;
      const held: TLSSocket[] = [];
      try {
        for (let i = 0; i < MAX_CONNECTIONS; i++) {
          held.push(await connectTls(tls(port), [...alpn]));
        }
        for (let i = 0; i < 3; i++) {
          const refused = await connectTls(tls(port), [...alpn]).then(
            (socket) => {
              socket.destroy();
              return false;
            },
            () => true,
          );
          expect(refused, 'the connection past the cap completed its handshake').to.equal(true);
        }
      } finally {
        held.forEach((socket) => socket.destroy());
      }
      expect(await counted()).to.equal(before + 3);
      // One line for the three, after the aggregation period (README "Limits").
      await sleep(REFUSAL_LOG_PERIOD_MS + 300);
      const lines = logLines
        .slice(firstLine)
        .map((line) => JSON.parse(line) as { msg: string; listener?: string; count?: number })
        .filter((line) => line.msg === 'connections refused at the connection cap' && line.listener === listener);
      expect(lines.map((line) => line.count)).to.deep.equal([3]);
      const again = await connectTls(tls(port), [...alpn]);
      expect(again.alpnProtocol).to.equal(alpn[0]);
      again.destroy();
    });
  }

  it('logs no error for a request followed by more bytes after Connection: close (destroyed socket)', async () => {
    const before = errorLines().length;
    for (let i = 0; i < 20; i++) {
      const socket = await connectTls(tls(server.ports.restRecipient, server.pki.clients.ecP256), ['http/1.1']);
      socket.resume();
      socket.write(
        `GET /key-capsules/KC${'0'.repeat(32)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n` +
          'GET / HTTP/1.1\r\nHost: x\r\n\r\nmore bytes',
      );
      await closedWithin(socket, 3000);
      socket.destroy();
    }
    await sleep(300);
    expect(errorLines().slice(before)).to.deep.equal([]);
  });

  it('refuses with a log line (reason, serial) and the counter on the REST and gRPC recipient listeners', async () => {
    const refusedMetric = (reason: string): Promise<number> =>
      metricValue(server, `cdoc2_certificates_refused{reason="${reason}"}`);
    const before = { untrusted: await refusedMetric('untrusted'), expired: await refusedMetric('expired') };
    const firstLine = logLines.length;

    for (const client of [server.pki.untrustedClient, server.pki.expiredClient]) {
      const rest = await https(server.pki, {
        port: server.ports.restRecipient,
        method: 'GET',
        path: `/key-capsules/KC${'0'.repeat(32)}`,
        client,
      });
      expect(rest.status).to.equal(401);
      const recipient = recipientClient(server.pki, server.ports.grpcRecipient, client);
      try {
        const error = await grpcGetCapsule(recipient, { transactionId: `KC${'0'.repeat(32)}` }).then(
          () => undefined,
          (e: ServiceError) => e,
        );
        expect(status[error?.code ?? status.OK]).to.equal('UNAVAILABLE');
      } finally {
        recipient.close();
      }
    }
    await sleep(200);
    const refusals = logLines
      .slice(firstLine)
      .map((line) => JSON.parse(line) as { msg: string; listener?: string; kind?: string; serial?: string })
      .filter((line) => line.msg === 'certificate refused');
    const seen = refusals.map(({ listener, kind, serial }) => `${listener} ${kind} ${serial}`).sort();
    const untrustedSerial = server.pki.untrustedClient.certificate.serialNumber.toUpperCase();
    const expiredSerial = server.pki.expiredClient.certificate.serialNumber.toUpperCase();
    expect(seen).to.deep.equal(
      [
        `capsules-recipient untrusted ${untrustedSerial}`,
        `capsules-grpc-recipient untrusted ${untrustedSerial}`,
        `capsules-recipient expired ${expiredSerial}`,
        `capsules-grpc-recipient expired ${expiredSerial}`,
      ].sort(),
    );
    expect(await refusedMetric('untrusted')).to.equal(before.untrusted + 2);
    expect(await refusedMetric('expired')).to.equal(before.expired + 2);
  });

  it('answers metadata of 20, 70 and 200 KiB, and single entries up to 63 KiB, always with RESOURCE_EXHAUSTED, 30 calls each, one after another and concurrently', async () => {
    const sender = senderClient(server.pki, server.ports.grpcSender);
    const capsule = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    /**
     * `kib` of metadata in entries of at most `entryKib`, of `a` (5 bits in HPACK's Huffman code) or of `~`
     * (13 bits, so sent as it is: 63 KiB of it is just under nghttp2's 64 KiB bound on one encoded value).
     */
    const metadataOf = (kib: number, entryKib: number, character = 'a'): Metadata => {
      const metadata = new Metadata();
      for (let i = 0; i * entryKib < kib; i++) {
        metadata.set(`x-${i}`, character.repeat(Math.min(entryKib, kib - i * entryKib) * 1024));
      }
      return metadata;
    };
    const call = (metadata: Metadata): Promise<string> =>
      new Promise((resolve) =>
        sender.createKeyCapsule({ capsule, requestedExpiryTime: undefined }, metadata, (error) =>
          resolve(error ? status[error.code] : 'OK'),
        ),
      );
    const shapes: Array<readonly [number, number, string?]> = [
      [20, 8],
      [70, 8],
      [200, 8],
      [20, 20],
      [60, 60],
      [63, 63, '~'],
    ];
    try {
      for (const [kib, entryKib, character] of shapes) {
        const shape = `${kib} KiB in entries of ${entryKib} KiB of ${character ?? 'a'}`;
        const oneByOne: string[] = [];
        for (let i = 0; i < 30; i++) {
          oneByOne.push(await call(metadataOf(kib, entryKib, character)));
        }
        const concurrent = await Promise.all(
          Array.from({ length: 30 }, () => call(metadataOf(kib, entryKib, character))),
        );
        expect(new Set(oneByOne), shape).to.deep.equal(new Set(['RESOURCE_EXHAUSTED']));
        expect(new Set(concurrent), `${shape}, concurrent`).to.deep.equal(new Set(['RESOURCE_EXHAUSTED']));
      }
    } finally {
      sender.close();
    }
  });

  /** Each call's gRPC status name on `client`, with `metadata` built afresh per call. */
  const statusesOf = (
    client: ReturnType<typeof senderClient>,
    metadata: () => Metadata,
    count: number,
  ): Promise<string[]> => {
    const capsule = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    return Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<string>((resolve) =>
            client.createKeyCapsule({ capsule, requestedExpiryTime: undefined }, metadata(), (error) =>
              resolve(error ? status[error.code] : 'OK'),
            ),
          ),
      ),
    );
  };
  const entries =
    (count: number, value: string): (() => Metadata) =>
    () => {
      const metadata = new Metadata();
      for (let i = 0; i < count; i++) {
        metadata.set(`x-${i}`, value);
      }
      return metadata;
    };

  it('answers more than 128 metadata entries with RESOURCE_EXHAUSTED or INTERNAL, and the connection keeps serving', async () => {
    // Node's HTTP/2 layer resets such a stream before grpc-js sees it (README "Limits"); the code races.
    const client = senderClient(server.pki, server.ports.grpcSender);
    const before = errorLines().length;
    try {
      const oneByOne: string[] = [];
      for (let i = 0; i < 10; i++) {
        oneByOne.push(...(await statusesOf(client, entries(129, 'a'), 1)));
      }
      const [many, tooMany, good] = await Promise.all([
        statusesOf(client, entries(129, 'a'), 30),
        statusesOf(client, entries(1000, 'a'), 10),
        statusesOf(client, () => new Metadata(), 10),
      ]);
      for (const seen of [oneByOne, many, tooMany]) {
        expect(['RESOURCE_EXHAUSTED', 'INTERNAL']).to.include.members([...new Set(seen)]);
      }
      // Calls on the same connection at the same time are not disturbed, nor is the next one.
      expect(good).to.deep.equal(Array<string>(10).fill('OK'));
      expect(await statusesOf(client, () => new Metadata(), 1)).to.deep.equal(['OK']);
      expect(errorLines().slice(before)).to.deep.equal([]);
    } finally {
      client.close();
    }
  });

  it('sends SETTINGS_MAX_CONCURRENT_STREAMS as its only HTTP/2 setting: no header list size for clients to honour', async () => {
    // README "Limits": grpc-js's connection injector gives no way to advertise SETTINGS_MAX_HEADER_LIST_SIZE, so a
    // grpc-core client cannot refuse oversized metadata before sending it. This pins that fact.
    const { socket, frames } = await openStreams({ ...tls(server.ports.grpcSender), streams: 0 });
    try {
      expect(await eventually(() => frames().some((f) => f.type === FRAME.SETTINGS), 5000)).to.equal(true);
      expect(frames().find((f) => f.type === FRAME.SETTINGS)?.settings).to.deep.equal({
        [constants.NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS]: MAX_STREAMS,
      });
    } finally {
      socket.destroy();
    }
  });

  it('ends the connection of a single metadata entry over 64 KiB (COMPRESSION_ERROR); other connections go on', async () => {
    const port = server.ports.grpcSender;
    const attacker = senderClient(server.pki, port, true);
    const bystander = senderClient(server.pki, port, true);
    const before = errorLines().length;
    try {
      // `~` has a 13-bit Huffman code, so the value is sent as it is: 63 KiB reaches the interceptor, 65 KiB is
      // past nghttp2's HPACK bound and ends the connection with every call on it (README "Limits").
      expect(await statusesOf(attacker, entries(1, '~'.repeat(63 * 1024)), 3)).to.deep.equal(
        Array<string>(3).fill('RESOURCE_EXHAUSTED'),
      );
      const [attacked, bystanding] = await Promise.all([
        statusesOf(attacker, entries(1, '~'.repeat(65 * 1024)), 5),
        statusesOf(bystander, () => new Metadata(), 10),
      ]);
      expect(attacked).to.deep.equal(Array<string>(5).fill('INTERNAL'));
      expect(bystanding).to.deep.equal(Array<string>(10).fill('OK'));
      expect(await statusesOf(attacker, () => new Metadata(), 1), 'the client reconnects').to.deep.equal(['OK']);
    } finally {
      attacker.close();
      bystander.close();
    }
    // An attacker that keeps its socket open: the server says GOAWAY(COMPRESSION_ERROR), stops reading it and
    // closes it when the connection is idle (`maxConnectionIdle`, 1 s here) or its keepalive ping goes unanswered.
    const { socket, frames } = await oneLargeHeaderField({ port, ca, valueBytes: 64 * 1024 + 1 });
    try {
      const closedMs = await closedWithin(socket, 20_000);
      expect(frames()).to.deep.include({ type: FRAME.GOAWAY, streamId: 0, code: COMPRESSION_ERROR });
      expect(closedMs, 'closed by the server').to.be.below(20_000);
    } finally {
      socket.destroy();
    }
    expect(errorLines().slice(before)).to.deep.equal([]);
  });
});

/**
 * Rapid reset (CVE-2023-44487) against a server with the default limits: with a short idle timeout, grpc-js would
 * close the attacker's connection for idleness and hide what happens with the defaults.
 */
describe('abuse: rapid reset with the default limits', function () {
  this.timeout(60_000);
  let defaults: TestServer;
  let ca: Buffer;
  before(async () => {
    defaults = await startTestServer({ log: { level: 'error' } });
    ca = readFileSync(defaults.pki.caFile);
  });
  after(() => defaults.close());

  const UNKNOWN_METHOD = '/cdoc2.capsules.v1.NoSuchService/NoSuchMethod';
  for (const [then, method] of [
    ['freeze', 'CreateKeyCapsule'],
    ['vanish', 'CreateKeyCapsule'],
    ['freeze', 'a method that does not exist'],
    ['vanish', 'a method that does not exist'],
  ] as const) {
    it(`closes the sockets of rapid-reset attackers (${then}, calling ${method}) and counts them: back to the baseline within 3 s, default keepalive`, async () => {
      const port = defaults.ports.grpcSender;
      const path = method === 'CreateKeyCapsule' ? CREATE_CAPSULE_PATH : UNKNOWN_METHOD;
      const baseline = establishedServerSockets(port);
      const closed = async (): Promise<number> =>
        (await metricValue(
          defaults,
          'cdoc2_connections_closed_total{listener="capsules-grpc-sender",reason="rapid_reset"}',
        )) || 0; // no series before the first closure
      const closedBefore = await closed();
      const attackers: TLSSocket[] = [];
      try {
        const started = Date.now();
        for (let i = 0; i < 5; i++) {
          const { sent, socket } = await rapidReset({ port, ca, durationMs: 500, then, path });
          expect(sent).to.be.greaterThan(RESET_BURST);
          attackers.push(socket);
        }
        const attackMs = Date.now() - started;
        // Without the reset guard the keepalive ping (PT30S + PT10S) closed them after 40 s, idleness after 5 min;
        // a method that does not exist is answered before any interceptor, and only the channelz sweep sees it.
        const back = await eventually(() => establishedServerSockets(port) <= baseline, 3000);
        expect(
          back,
          `established: ${establishedServerSockets(port)}, baseline ${baseline}, attack ${attackMs} ms`,
        ).to.equal(true);
        // A frozen attacker's socket stays open unless the guard closes it, so each of the five was the guard's;
        // a vanished one may have been read to its end (and closed by its FIN) before it spent the budget.
        const counted = (await closed()) - closedBefore;
        if (then === 'freeze') {
          expect(counted).to.equal(5);
        } else {
          expect(counted).to.be.within(1, 5);
        }
      } finally {
        attackers.forEach((socket) => socket.destroy());
      }
    });
  }

  it('keeps the connection of a client that calls a method that does not exist now and then', async () => {
    const port = defaults.ports.grpcSender;
    const client = senderClient(defaults.pki, port);
    const closed = () =>
      metricValue(defaults, 'cdoc2_connections_closed_total{listener="capsules-grpc-sender",reason="rapid_reset"}');
    try {
      const closedBefore = (await closed()) || 0;
      const codes = await Promise.all(
        Array.from(
          { length: 100 },
          () =>
            new Promise<number | undefined>((resolve) =>
              client.makeUnaryRequest(
                UNKNOWN_METHOD,
                (value: Buffer) => value,
                (value: Buffer) => value,
                Buffer.alloc(0),
                (error) => resolve(error?.code),
              ),
            ),
        ),
      );
      expect(new Set(codes)).to.deep.equal(new Set([status.UNIMPLEMENTED]));
      // Several sweeps of the channelz counts (FAILED_STREAM_SWEEP_MS each).
      await sleep(4 * FAILED_STREAM_SWEEP_MS);
      expect((await closed()) || 0).to.equal(closedBefore);
      await grpcCreateCapsule(client, { capsule: protoCapsule(capsuleFor(defaults.pki.clients.ecP256)) });
    } finally {
      client.close();
    }
  });
});
