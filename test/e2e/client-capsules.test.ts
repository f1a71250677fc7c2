// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createKeyServerClient,
  NotAuthorizedError,
  NotFoundError,
  parseServerList,
  pemIdentity,
  pkcs12Identity,
  ServerListError,
  ServerNotTrustedError,
  UnavailableError,
  type KeyServerClient,
} from '../../src/client/index.js';
import { capsuleFor } from '../support/capsule-fixtures.js';
import {
  otherLocalhostCertificate,
  startTlsRecorder,
  testServerList,
  type TlsRecorder,
} from '../support/client-fixtures.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { execFileSync } from 'node:child_process';

/**
 * The client library against a real key capsule server over real TLS 1.3 (README "Using the API"): every call
 * names a server by its list id; the server's certificate is pinned.
 */
describe('client library: key capsules over REST and gRPC, with the server key pinned', () => {
  let server: TestServer;
  let client: KeyServerClient;
  let recorder: TlsRecorder;
  let impostorCertificate: IssuedCertificate;

  before(async () => {
    server = await startTestServer();
    const { pki } = server;
    impostorCertificate = await otherLocalhostCertificate(pki);
    recorder = await startTlsRecorder(impostorCertificate);
    const { ports } = server;
    client = createKeyServerClient({
      timeoutMs: 5000,
      attempts: 2,
      retryDelayMs: 10,
      servers: testServerList(pki, [
        {
          id: 'kc-rest',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-a',
          senderUrl: `https://localhost:${ports.restSender}`,
          recipientUrl: `https://localhost:${ports.restRecipient}`,
        },
        {
          id: 'kc-grpc',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-a',
          senderUrl: `grpcs://localhost:${ports.grpcSender}`,
          recipientUrl: `grpcs://localhost:${ports.grpcRecipient}`,
        },
        {
          // The real server, but the list pins another certificate (as after a botched rotation).
          id: 'kc-other-pin',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-a',
          senderUrl: `https://localhost:${ports.restSender}`,
          recipientUrl: `grpcs://localhost:${ports.grpcRecipient}`,
          certificates: [pki.clients.ecP256.certPem],
        },
        {
          // Valid for localhost and issued by the trusted CA, but not the pinned certificate.
          id: 'kc-impostor',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-b',
          senderUrl: `https://localhost:${recorder.port}`,
          recipientUrl: `grpcs://localhost:${recorder.port}`,
        },
        {
          id: 'css',
          capsuleType: 'KeySharesCapsule',
          organization: 'org-c',
          senderUrl: `https://localhost:${server.sharePorts.rest}`,
          recipientUrl: `https://localhost:${server.sharePorts.rest}`,
        },
      ]),
    });
  });
  after(async () => {
    await recorder?.close();
    await server?.close();
  });

  for (const id of ['kc-rest', 'kc-grpc']) {
    it(`stores a capsule and fetches it back with a PEM identity (${id})`, async () => {
      const recipient = server.pki.clients.ecP384;
      const capsule = capsuleFor(recipient);
      const created = await client.createCapsule(id, capsule);
      expect(created.transactionId).to.match(/^KC[0-9a-f]{32}$/);
      expect(created.expiryTime?.getTime()).to.be.greaterThan(Date.now());
      writeFileSync(join(server.pki.dir, 'recipient-p384.pem'), recipient.certPem);
      writeFileSync(join(server.pki.dir, 'recipient-p384-key.pem'), recipient.keyPem);
      const identity = pemIdentity(
        join(server.pki.dir, 'recipient-p384.pem'),
        join(server.pki.dir, 'recipient-p384-key.pem'),
      );
      const fetched = await client.getCapsule(id, created.transactionId, identity);
      expect(Buffer.from(fetched.recipientId).equals(capsule.recipientId)).to.equal(true);
      expect(Buffer.from(fetched.ephemeralKeyMaterial).equals(capsule.ephemeralKeyMaterial)).to.equal(true);
      expect(fetched.capsuleType).to.equal(capsule.capsuleType);
    });

    it(`answers NotFoundError for another recipient's capsule, like an unknown id (${id})`, async () => {
      const created = await client.createCapsule(id, capsuleFor(server.pki.clients.ecP256));
      const intruder = server.pki.clients.rsa2048;
      const error = await client
        .getCapsule(id, created.transactionId, { kind: 'pem', cert: intruder.certPem, key: intruder.keyPem })
        .catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(NotFoundError);
      expect((error as NotFoundError).serverId).to.equal(id);
    });
  }

  it('fetches with a PKCS#12 identity (openssl-made .p12 with a passphrase)', async () => {
    const recipient = server.pki.clients.ecP256;
    const dir = server.pki.dir;
    writeFileSync(join(dir, 'p12-cert.pem'), recipient.certPem);
    writeFileSync(join(dir, 'p12-key.pem'), recipient.keyPem);
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      join(dir, 'p12-cert.pem'),
      '-inkey',
      join(dir, 'p12-key.pem'),
      '-out',
      join(dir, 'recipient.p12'),
      '-passout',
      'pass:secret',
    ]);
    const capsule = capsuleFor(recipient);
    const created = await client.createCapsule('kc-grpc', capsule);
    for (const id of ['kc-rest', 'kc-grpc']) {
      const fetched = await client.getCapsule(
        id,
        created.transactionId,
        pkcs12Identity(join(dir, 'recipient.p12'), 'secret'),
      );
      expect(Buffer.from(fetched.recipientId).equals(capsule.recipientId), id).to.equal(true);
    }
  });

  for (const id of ['kc-rest', 'kc-grpc']) {
    it(`refuses a recipient interface call without a trusted client certificate as NotAuthorizedError (${id})`, async () => {
      const created = await client.createCapsule(id, capsuleFor(server.pki.clients.ecP256));
      const stranger = server.pki.untrustedClient;
      const error = await client
        .getCapsule(id, created.transactionId, { kind: 'pem', cert: stranger.certPem, key: stranger.keyPem })
        .catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(NotAuthorizedError);
    });
  }

  it('never sends a byte to a server whose valid certificate is not pinned, over REST and gRPC', async () => {
    const recipient = server.pki.clients.ecP256;
    const create = await client.createCapsule('kc-impostor', capsuleFor(recipient)).catch((caught: unknown) => caught);
    const get = await client
      .getCapsule('kc-impostor', 'KC' + '0'.repeat(32), { kind: 'pem', cert: recipient.certPem, key: recipient.keyPem })
      .catch((caught: unknown) => caught);
    for (const error of [create, get]) {
      expect(error).to.be.instanceOf(ServerNotTrustedError);
      expect((error as Error).message).to.match(/does not pin/);
    }
    expect(recorder.connections(), 'the client did reach the impostor').to.be.greaterThan(0);
    expect(recorder.bytesReceived(), 'application bytes received by the impostor').to.equal(0);
  });

  it('refuses the real server when the list pins another certificate for it, without retrying', async () => {
    const recipient = server.pki.clients.ecP256;
    const create = await client.createCapsule('kc-other-pin', capsuleFor(recipient)).catch((caught: unknown) => caught);
    expect(create).to.be.instanceOf(ServerNotTrustedError);
    const get = await client
      .getCapsule('kc-other-pin', 'KC' + '0'.repeat(32), {
        kind: 'pem',
        cert: recipient.certPem,
        key: recipient.keyPem,
      })
      .catch((caught: unknown) => caught);
    expect(get).to.be.instanceOf(ServerNotTrustedError);
  });

  it('reports an unreachable server as UnavailableError after the retries of an idempotent get', async () => {
    const unreachable = createKeyServerClient({
      attempts: 2,
      retryDelayMs: 10,
      timeoutMs: 2000,
      servers: testServerList(server.pki, [
        {
          id: 'gone',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-a',
          senderUrl: 'https://localhost:1',
          recipientUrl: 'grpcs://localhost:1',
        },
      ]),
    });
    const recipient = server.pki.clients.ecP256;
    for (const call of [
      () => unreachable.createCapsule('gone', capsuleFor(recipient)),
      () =>
        unreachable.getCapsule('gone', 'KC' + '0'.repeat(32), {
          kind: 'pem',
          cert: recipient.certPem,
          key: recipient.keyPem,
        }),
    ]) {
      expect(await call().catch((caught: unknown) => caught)).to.be.instanceOf(UnavailableError);
    }
  });

  it("refuses a server whose chain does not lead to the list's CA, as not trusted", async () => {
    const otherCa = createKeyServerClient({
      servers: parseServerList({
        ca: [server.pki.untrustedCa.certPem],
        servers: [
          {
            id: 'kc',
            capsuleType: 'KeyServerCapsule',
            organization: 'org-a',
            senderUrl: `https://localhost:${server.ports.restSender}`,
            recipientUrl: `grpcs://localhost:${server.ports.grpcRecipient}`,
            certificates: [server.pki.server.certPem],
          },
        ],
      }),
    });
    const recipient = server.pki.clients.ecP256;
    const create = await otherCa.createCapsule('kc', capsuleFor(recipient)).catch((caught: unknown) => caught);
    const get = await otherCa
      .getCapsule('kc', `KC${'0'.repeat(32)}`, { kind: 'pem', cert: recipient.certPem, key: recipient.keyPem })
      .catch((caught: unknown) => caught);
    for (const error of [create, get]) {
      expect(error).to.be.instanceOf(ServerNotTrustedError);
      expect((error as Error).message).to.match(/does not validate/);
    }
  });

  it('gives up at the deadline on a pinned server that never answers, over REST and gRPC', async () => {
    // The recorder holds the pinned certificate here: the handshake succeeds, then nothing is ever answered.
    const silent = createKeyServerClient({
      timeoutMs: 1000,
      attempts: 1,
      servers: testServerList(server.pki, [
        {
          id: 'silent',
          capsuleType: 'KeyServerCapsule',
          organization: 'org-a',
          senderUrl: `https://localhost:${recorder.port}`,
          recipientUrl: `grpcs://localhost:${recorder.port}`,
          certificates: [impostorCertificate.certPem],
        },
      ]),
    });
    const recipient = server.pki.clients.ecP256;
    const create = await silent.createCapsule('silent', capsuleFor(recipient)).catch((caught: unknown) => caught);
    expect(create).to.be.instanceOf(UnavailableError);
    expect((create as Error).message).to.match(/did not answer within 1000 ms/);
    const get = await silent
      .getCapsule('silent', `KC${'0'.repeat(32)}`, { kind: 'pem', cert: recipient.certPem, key: recipient.keyPem })
      .catch((caught: unknown) => caught);
    expect(get).to.be.instanceOf(UnavailableError);
    expect(recorder.bytesReceived(), 'the pinned server did receive the requests').to.be.greaterThan(0);
  });

  it('names servers by id only: an unknown id or a server of the other capsule type is a clear error', async () => {
    const capsule = capsuleFor(server.pki.clients.ecP256);
    const unknown = await client.createCapsule('https://localhost:1', capsule).catch((caught: unknown) => caught);
    expect(unknown).to.be.instanceOf(ServerListError);
    expect((unknown as Error).message).to.match(/no server "https:\/\/localhost:1"/);
    const wrongType = await client.createCapsule('css', capsule).catch((caught: unknown) => caught);
    expect(wrongType).to.be.instanceOf(ServerListError);
    expect((wrongType as Error).message).to.match(/supports KeySharesCapsule, not KeyServerCapsule/);
  });
});
