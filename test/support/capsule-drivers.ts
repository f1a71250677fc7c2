import { expect } from 'chai';
import {
  CapsuleType as ProtoCapsuleType,
  type Capsule as ProtoCapsule,
  type KeyCapsuleRecipientServiceClient,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import { CAPSULE_TYPES, CAPSULE_TYPE_REGISTRY } from '../../src/domain/capsules/capsule-types.js';
import { capsuleJson, protoCapsule, type TestCapsule } from './capsule-fixtures.js';
import type { ClientName } from './test-pki.js';
import { https, PROBLEM_ACCEPT, type HttpResponse, type TestServer } from './test-server.js';
import { grpcCreateCapsule, grpcGetCapsule, recipientClient, senderClient } from './test-server.js';
import { grpcOutcome, mapOutcome, restOutcome, type Outcome } from './transport-outcome.js';

/** What a create answers, whichever wire carried it. */
export interface CreatedCapsule {
  readonly transactionId: string;
  readonly expiryTime: Date;
  readonly expiryTimeAdjusted: boolean;
}

/** What a get answers, whichever wire carried it. */
export interface FetchedCapsule {
  readonly capsule: TestCapsule;
  readonly expiryTime: Date;
  readonly expiryTimeAdjusted: boolean;
}

/** The two capsule operations (README "Using the API") over one transport, answers normalised. */
export interface CapsuleDriver {
  create(capsule: TestCapsule, requestedExpiryTime?: Date): Promise<Outcome<CreatedCapsule>>;
  get(transactionId: string, client: ClientName): Promise<Outcome<FetchedCapsule>>;
  close(): void;
}

export interface CapsuleTransport {
  readonly name: 'REST' | 'gRPC';
  driver(server: TestServer): CapsuleDriver;
}

/** `x-expiry-time` / `x-expiry-time-adjusted` of a REST answer (openapi/cdoc2-key-capsules.yaml). */
function restExpiry(res: HttpResponse): { expiryTime: Date; expiryTimeAdjusted: boolean } {
  expect(res.headers['x-expiry-time-adjusted']).to.be.oneOf(['true', 'false']);
  return {
    expiryTime: new Date(String(res.headers['x-expiry-time'])),
    expiryTimeAdjusted: res.headers['x-expiry-time-adjusted'] === 'true',
  };
}

/** The capsule a REST GET body carries; the body must be exactly what a POST of it sends (key order, padding). */
function restCapsule(res: HttpResponse): TestCapsule {
  expect(res.headers['content-type']).to.match(/^application\/json/);
  const body = JSON.parse(res.body) as { recipient_id: string; ephemeral_key_material: string; capsule_type: string };
  const capsuleType = CAPSULE_TYPES.find((type) => type === body.capsule_type);
  expect(capsuleType, body.capsule_type).to.not.equal(undefined);
  const capsule: TestCapsule = {
    recipientId: Buffer.from(body.recipient_id, 'base64'),
    ephemeralKeyMaterial: Buffer.from(body.ephemeral_key_material, 'base64'),
    capsuleType: capsuleType ?? 'rsa',
  };
  expect(res.body).to.equal(capsuleJson(capsule));
  return capsule;
}

export const REST_CAPSULES: CapsuleTransport = {
  name: 'REST',
  driver: (server) => ({
    async create(capsule, requestedExpiryTime) {
      const res = await https(server.pki, {
        port: server.ports.restSender,
        method: 'POST',
        path: '/key-capsules',
        headers: {
          ...PROBLEM_ACCEPT,
          'content-type': 'application/json',
          ...(requestedExpiryTime ? { 'x-expiry-time': requestedExpiryTime.toISOString() } : {}),
        },
        body: capsuleJson(capsule),
      });
      return restOutcome(res, 201, () => ({
        transactionId: String(res.headers['location']).replace(/^\/key-capsules\//, ''),
        ...restExpiry(res),
      }));
    },
    async get(transactionId, client) {
      const res = await https(server.pki, {
        port: server.ports.restRecipient,
        method: 'GET',
        path: `/key-capsules/${transactionId}`,
        headers: PROBLEM_ACCEPT,
        client: server.pki.clients[client],
      });
      return restOutcome(res, 200, () => ({ capsule: restCapsule(res), ...restExpiry(res) }));
    },
    close: () => undefined,
  }),
};

/** The capsule a gRPC message carries, in the tests' form. */
function grpcCapsule(capsule: ProtoCapsule | undefined): TestCapsule {
  const capsuleType = CAPSULE_TYPES.find(
    (type) => ProtoCapsuleType[CAPSULE_TYPE_REGISTRY[type].protoName] === capsule?.capsuleType,
  );
  expect(capsuleType, String(capsule?.capsuleType)).to.not.equal(undefined);
  return {
    recipientId: Buffer.from(capsule?.recipientId ?? []),
    ephemeralKeyMaterial: Buffer.from(capsule?.ephemeralKeyMaterial ?? []),
    capsuleType: capsuleType ?? 'rsa',
  };
}

/** The expiry fields of a gRPC answer; the server always sends the time (proto/cdoc2/capsules/v1/capsules.proto). */
function grpcExpiry(answer: { expiryTime?: Date | undefined; expiryTimeAdjusted: boolean }): {
  expiryTime: Date;
  expiryTimeAdjusted: boolean;
} {
  expect(answer.expiryTime, 'expiry_time').to.be.instanceOf(Date);
  return { expiryTime: answer.expiryTime ?? new Date(Number.NaN), expiryTimeAdjusted: answer.expiryTimeAdjusted };
}

export const GRPC_CAPSULES: CapsuleTransport = {
  name: 'gRPC',
  driver(server) {
    const sender = senderClient(server.pki, server.ports.grpcSender);
    const recipients = new Map<ClientName, KeyCapsuleRecipientServiceClient>();
    const recipient = (name: ClientName): KeyCapsuleRecipientServiceClient => {
      const client =
        recipients.get(name) ?? recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients[name]);
      recipients.set(name, client);
      return client;
    };
    return {
      create: async (capsule, requestedExpiryTime) =>
        mapOutcome(
          await grpcOutcome(grpcCreateCapsule(sender, { capsule: protoCapsule(capsule), requestedExpiryTime })),
          (created) => ({ transactionId: created.transactionId, ...grpcExpiry(created) }),
        ),
      get: async (transactionId, client) =>
        mapOutcome(await grpcOutcome(grpcGetCapsule(recipient(client), { transactionId })), (fetched) => ({
          capsule: grpcCapsule(fetched.capsule),
          ...grpcExpiry(fetched),
        })),
      close() {
        sender.close();
        recipients.forEach((client) => client.close());
      },
    };
  },
};

/** Every transport the capsule server speaks: a case in the matrix runs over each. */
export const CAPSULE_TRANSPORTS: readonly CapsuleTransport[] = [REST_CAPSULES, GRPC_CAPSULES];
