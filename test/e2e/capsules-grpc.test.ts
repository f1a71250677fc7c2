import { expect } from 'chai';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  CapsuleType,
  type Capsule,
  type KeyCapsuleRecipientServiceClient,
  type KeyCapsuleSenderServiceClient,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import { CLIENT_KEYS, type ClientName } from '../support/test-pki.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import { expectGrpcStatus } from '../support/grpc-assertions.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  recipientClient,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

const DAY = 86_400_000;

describe('key capsule server over gRPC (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let sender: KeyCapsuleSenderServiceClient;
  const recipients = new Map<ClientName, KeyCapsuleRecipientServiceClient>();

  const recipient = (name: ClientName): KeyCapsuleRecipientServiceClient => {
    let client = recipients.get(name);
    if (!client) {
      client = recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients[name]);
      recipients.set(name, client);
    }
    return client;
  };

  const create = (capsule: Capsule, requestedExpiryTime?: Date) =>
    grpcCreateCapsule(sender, { capsule, requestedExpiryTime });

  const get = (transactionId: string, name: ClientName = 'ecP256') =>
    grpcGetCapsule(recipient(name), { transactionId });

  before(async () => {
    server = await startTestServer({ capsules: { expiry: { default: 'P10D', max: 'P30D' } } });
    sender = senderClient(server.pki, server.ports.grpcSender);
  });
  after(async () => {
    sender.close();
    recipients.forEach((client) => client.close());
    await server.close();
  });

  for (const name of Object.keys(CLIENT_KEYS) as ClientName[]) {
    it(`stores a capsule and serves it to the ${name} certificate that holds the recipient key`, async () => {
      const capsule = protoCapsule(capsuleFor(server.pki.clients[name]));
      const created = await create(capsule);
      expect(created.transactionId).to.match(/^KC[0-9a-f]{32}$/);
      const fetched = await get(created.transactionId, name);
      expect(fetched.capsule).to.deep.equal(capsule);
      expect(fetched.expiryTime?.getTime()).to.equal(created.expiryTime?.getTime());
    });
  }

  it('applies the default expiry when none is requested', async () => {
    const created = await create(protoCapsule(capsuleFor(server.pki.clients.ecP256)));
    expect(created.expiryTime?.getTime()).to.equal(server.clock.now().getTime() + 10 * DAY);
    expect(created.expiryTimeAdjusted).to.equal(false);
  });

  it('clamps an expiry beyond the maximum and reports expiry_time_adjusted on create and get', async () => {
    const created = await create(protoCapsule(capsuleFor(server.pki.clients.ecP256)), new Date('2199-01-01T00:00:00Z'));
    expect(created.expiryTimeAdjusted).to.equal(true);
    expect(created.expiryTime?.getTime()).to.equal(server.clock.now().getTime() + 30 * DAY);
    const fetched = await get(created.transactionId);
    expect(fetched.expiryTimeAdjusted).to.equal(true);
  });

  it('refuses an expiry in the past with INVALID_ARGUMENT', async () => {
    await expectGrpcStatus(
      create(protoCapsule(capsuleFor(server.pki.clients.ecP256)), new Date(server.clock.now().getTime() - 1000)),
      status.INVALID_ARGUMENT,
    );
  });

  it('stores the same capsule twice as two capsules with two ids', async () => {
    const capsule = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    const [first, second] = await Promise.all([create(capsule), create(capsule)]);
    expect(first.transactionId).to.not.equal(second.transactionId);
  });

  it('answers NOT_FOUND when the certificate does not match, identical to an unknown id', async () => {
    const created = await create(protoCapsule(capsuleFor(server.pki.clients.ecP256)));
    const wrong = await expectGrpcStatus(get(created.transactionId, 'ecP521'), status.NOT_FOUND);
    const wrongKind = await expectGrpcStatus(get(created.transactionId, 'rsa4096'), status.NOT_FOUND);
    const unknown = await expectGrpcStatus(get(`KC${'0'.repeat(32)}`), status.NOT_FOUND);
    expect(wrong.details).to.equal(unknown.details);
    expect(wrongKind.details).to.equal(unknown.details);
    expect(unknown.details).to.equal('key capsule not found');
  });

  it('answers NOT_FOUND once the capsule has expired', async () => {
    const created = await create(
      protoCapsule(capsuleFor(server.pki.clients.ecP256)),
      new Date(server.clock.now().getTime() + DAY),
    );
    await get(created.transactionId);
    server.clock.advance(DAY + 1);
    try {
      const expired = await expectGrpcStatus(get(created.transactionId), status.NOT_FOUND);
      expect(expired.details).to.equal('key capsule not found');
    } finally {
      server.clock.advance(-(DAY + 1));
    }
  });

  for (const length of [17, 35]) {
    it(`answers INVALID_ARGUMENT to a transaction id of ${length} characters`, async () => {
      const error = await expectGrpcStatus(get('K'.repeat(length)), status.INVALID_ARGUMENT);
      expect(error.details).to.match(/18 to 34 characters/);
    });
  }

  it('answers INVALID_ARGUMENT to a 2101-byte ephemeral_key_material', async () => {
    const capsule = {
      ...protoCapsule(capsuleFor(server.pki.clients.rsa2048)),
      ephemeralKeyMaterial: Buffer.alloc(2101),
    };
    const error = await expectGrpcStatus(create(capsule), status.INVALID_ARGUMENT);
    expect(error.details).to.match(/ephemeral_key_material/);
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

  it('answers INVALID_ARGUMENT to a point that is not on the curve', async () => {
    const valid = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    const offCurve = Buffer.from(valid.recipientId);
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const error = await expectGrpcStatus(create({ ...valid, recipientId: offCurve }), status.INVALID_ARGUMENT);
    expect(error.details).to.equal('recipient_id is not a point on P-256');
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
