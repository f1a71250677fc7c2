import { expect } from 'chai';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { CapsuleType, type Capsule, type KeyCapsuleSenderServiceClient } from '../../gen/cdoc2/capsules/v1/capsules.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import { expectGrpcStatus } from '../support/grpc-assertions.js';
import { grpcCreateCapsule, senderClient, startTestServer, type TestServer } from '../support/test-server.js';

/**
 * What only the gRPC wire of the key capsule server has: protobuf messages that no JSON body can express (a
 * missing message, enum values outside the schema, bytes that do not decode), metadata and message size limits.
 * The behaviour both wires share is in capsules.test.ts, run over each.
 */
describe('key capsule server over gRPC only (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let sender: KeyCapsuleSenderServiceClient;

  const create = (capsule: Capsule) => grpcCreateCapsule(sender, { capsule });

  before(async () => {
    server = await startTestServer();
    sender = senderClient(server.pki, server.ports.grpcSender);
  });
  after(async () => {
    sender.close();
    await server.close();
  });

  it('answers INVALID_ARGUMENT to a missing capsule, an unspecified and an unknown capsule type', async () => {
    const valid = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    expect((await expectGrpcStatus(grpcCreateCapsule(sender, {}), status.INVALID_ARGUMENT)).details).to.match(
      /capsule is required/,
    );
    await expectGrpcStatus(
      create({ ...valid, capsuleType: CapsuleType.CAPSULE_TYPE_UNSPECIFIED }),
      status.INVALID_ARGUMENT,
    );
    const unknown = await expectGrpcStatus(
      create({ ...valid, capsuleType: 42 as CapsuleType }),
      status.INVALID_ARGUMENT,
    );
    expect(unknown.details).to.match(/capsule_type 42/);
  });

  it('answers INVALID_ARGUMENT, not INTERNAL, to bytes that are not a protobuf message', async () => {
    const raw = new Client(
      `127.0.0.1:${server.ports.grpcSender}`,
      credentials.createSsl(Buffer.from(server.pki.ca.certPem)),
      {
        'grpc.ssl_target_name_override': 'localhost',
      },
    );
    try {
      const error = await expectGrpcStatus(
        new Promise((resolve, reject) => {
          raw.makeUnaryRequest(
            '/cdoc2.capsules.v1.KeyCapsuleSenderService/CreateKeyCapsule',
            (bytes: Buffer) => bytes,
            (bytes: Buffer) => bytes,
            // Field 1, length-delimited, claiming 127 bytes that never come.
            Buffer.from([0x0a, 0x7f, 0x01]),
            (error, value) => (error ? reject(error) : resolve(value)),
          );
        }),
        status.INVALID_ARGUMENT,
      );
      expect(error.details).to.match(/not a valid protobuf message/);
    } finally {
      raw.close();
    }
  });

  it('refuses absurdly large metadata and keeps serving', async () => {
    const metadata = new Metadata();
    metadata.set('x-absurd', 'a'.repeat(40_000));
    const capsule = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    const refused = await new Promise<ServiceError | undefined>((resolve) => {
      sender.createKeyCapsule({ capsule, requestedExpiryTime: undefined }, metadata, (error) =>
        resolve(error ?? undefined),
      );
    });
    expect(refused, 'the call with 40 kB of metadata succeeded').to.not.equal(undefined);
    // The HTTP/2 layer refuses the header block; grpc-js reports that to the client as RESOURCE_EXHAUSTED.
    expect(status[refused?.code ?? status.OK]).to.equal('RESOURCE_EXHAUSTED');
    const created = await create(capsule);
    expect(created.transactionId).to.match(/^KC[0-9a-f]{32}$/);
  });

  it('refuses a request larger than 64 KiB before decoding it', async () => {
    const capsule = {
      ...protoCapsule(capsuleFor(server.pki.clients.rsa2048)),
      ephemeralKeyMaterial: Buffer.alloc(70_000),
    };
    await expectGrpcStatus(create(capsule), status.RESOURCE_EXHAUSTED);
  });
});
