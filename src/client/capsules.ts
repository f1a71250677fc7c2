import { credentials as grpcCredentials, Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import {
  CapsuleType as GrpcCapsuleType,
  KeyCapsuleRecipientServiceClient,
  KeyCapsuleSenderServiceClient,
  type CreateKeyCapsuleResponse,
  type GetKeyCapsuleResponse,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import type { Capsule } from '../domain/capsules/capsule.js';
import { CAPSULE_TYPE_REGISTRY, CAPSULE_TYPES, type CapsuleType } from '../domain/capsules/capsule-types.js';
import { restRequest, type PinnedTls } from './connection.js';
import { ServerError } from './errors.js';
import type { ServerUrl, TrustedServer } from './server-list.js';
import { grpcError, httpError } from './wire-errors.js';

/** One server interface to call: the listed server, the URL of the interface, its pinned TLS, a deadline. */
export interface Endpoint {
  readonly server: TrustedServer;
  readonly url: ServerUrl;
  readonly tls: PinnedTls;
  readonly timeoutMs: number;
}

export interface CreatedCapsule {
  readonly transactionId: string;
  /** When the server will delete the capsule (absent if a REST server did not say). */
  readonly expiryTime: Date | undefined;
  readonly expiryTimeAdjusted: boolean;
}

export interface ReceivedCapsule extends Capsule {
  readonly expiryTime: Date | undefined;
}

/** Each capsule type's proto enum value, from the registry (a protoName the enum lacks does not compile). */
const GRPC_TYPES = Object.fromEntries(
  CAPSULE_TYPES.map((type) => [type, GrpcCapsuleType[CAPSULE_TYPE_REGISTRY[type].protoName]]),
) as Readonly<Record<CapsuleType, GrpcCapsuleType>>;

/** `host:port` for grpc-js, IPv6 literals bracketed. */
export const grpcTarget = (url: ServerUrl): string =>
  `${url.host.includes(':') ? `[${url.host}]` : url.host}:${url.port}`;

export const grpcChannelCredentials = (tls: PinnedTls) =>
  grpcCredentials.createFromSecureContext(tls.secureContext, { checkServerIdentity: tls.checkServerIdentity });

/** A unary gRPC call as a promise, with the endpoint's deadline and its errors typed. */
export function unary<T>(
  endpoint: Endpoint,
  start: (options: CallOptions, callback: (error: ServiceError | null, response?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    start({ deadline: Date.now() + endpoint.timeoutMs }, (error, response) => {
      if (error) {
        reject(grpcError(endpoint.server, endpoint.tls, error));
      } else if (response === undefined) {
        reject(new ServerError(`server "${endpoint.server.id}" sent no answer`, endpoint.server.id));
      } else {
        resolve(response);
      }
    });
  });
}

/** Runs `use` with a gRPC client of `Client` for the endpoint, and closes its channel afterwards. */
export async function withGrpcClient<C extends { close(): void }, T>(
  endpoint: Endpoint,
  Client: new (address: string, credentials: ReturnType<typeof grpcChannelCredentials>) => C,
  use: (client: C) => Promise<T>,
): Promise<T> {
  const client = new Client(grpcTarget(endpoint.url), grpcChannelCredentials(endpoint.tls));
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

const REST_ACCEPT = { accept: 'application/json, application/problem+json' };

/** The expiry headers of a REST answer (openapi/key-capsules.yaml, `createCapsule`). */
function restExpiry(headers: Record<string, string | string[] | undefined>): Omit<CreatedCapsule, 'transactionId'> {
  const time = headers['x-expiry-time'];
  const parsed = typeof time === 'string' ? new Date(time) : undefined;
  return {
    expiryTime: parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined,
    expiryTimeAdjusted: headers['x-expiry-time-adjusted'] === 'true',
  };
}

/** The last segment of a `Location: /key-capsules/{id}` (or `/key-shares/{id}`) header. */
export function idFromLocation(endpoint: Endpoint, location: unknown, collection: string): string {
  const match = typeof location === 'string' ? new RegExp(`/${collection}/([^/?#]+)$`).exec(location) : null;
  if (!match?.[1]) {
    throw new ServerError(`server "${endpoint.server.id}" sent no usable Location header`, endpoint.server.id);
  }
  return decodeURIComponent(match[1]);
}

/**
 * Stores a capsule (sender interface). Never retried by this client: creation is not idempotent, so if the
 * answer is lost after the server stored the capsule, a retry would store a second one under a new transaction id
 * (the first staying behind until it expires) and the caller could not know which id went into the container.
 */
export async function createCapsule(endpoint: Endpoint, capsule: Capsule, expiry?: Date): Promise<CreatedCapsule> {
  if (endpoint.url.transport === 'grpc') {
    const response = await withGrpcClient(endpoint, KeyCapsuleSenderServiceClient, (client) =>
      unary<CreateKeyCapsuleResponse>(endpoint, (options, callback) =>
        client.createKeyCapsule(
          {
            capsule: {
              recipientId: Buffer.from(capsule.recipientId),
              ephemeralKeyMaterial: Buffer.from(capsule.ephemeralKeyMaterial),
              capsuleType: GRPC_TYPES[capsule.capsuleType],
            },
            requestedExpiryTime: expiry,
          },
          new Metadata(),
          options,
          callback,
        ),
      ),
    );
    return {
      transactionId: response.transactionId,
      expiryTime: response.expiryTime,
      expiryTimeAdjusted: response.expiryTimeAdjusted,
    };
  }
  const response = await restRequest(endpoint.server, endpoint.url, endpoint.tls, {
    method: 'POST',
    path: '/key-capsules',
    headers: { ...REST_ACCEPT, ...(expiry ? { 'x-expiry-time': expiry.toISOString() } : {}) },
    body: JSON.stringify({
      recipient_id: Buffer.from(capsule.recipientId).toString('base64'),
      ephemeral_key_material: Buffer.from(capsule.ephemeralKeyMaterial).toString('base64'),
      capsule_type: capsule.capsuleType,
    }),
    timeoutMs: endpoint.timeoutMs,
  });
  if (response.status !== 201) {
    throw httpError(endpoint.server, response.status, response.body);
  }
  return {
    transactionId: idFromLocation(endpoint, response.headers.location, 'key-capsules'),
    ...restExpiry(response.headers),
  };
}

const capsuleTypeOf = (endpoint: Endpoint, value: unknown): CapsuleType => {
  const type =
    typeof value === 'number'
      ? CAPSULE_TYPES.find((known) => (GRPC_TYPES[known] as number) === value)
      : CAPSULE_TYPES.find((known) => known === value);
  if (!type) {
    throw new ServerError(
      `server "${endpoint.server.id}" sent an unknown capsule type ${String(value)}`,
      endpoint.server.id,
    );
  }
  return type;
};

/** Fetches a capsule (recipient interface, mutual TLS with the identity in `endpoint.tls`). Safe to retry. */
export async function getCapsule(endpoint: Endpoint, transactionId: string): Promise<ReceivedCapsule> {
  if (endpoint.url.transport === 'grpc') {
    const response = await withGrpcClient(endpoint, KeyCapsuleRecipientServiceClient, (client) =>
      unary<GetKeyCapsuleResponse>(endpoint, (options, callback) =>
        client.getKeyCapsule({ transactionId }, new Metadata(), options, callback),
      ),
    );
    if (!response.capsule) {
      throw new ServerError(`server "${endpoint.server.id}" answered without a capsule`, endpoint.server.id);
    }
    return {
      recipientId: new Uint8Array(response.capsule.recipientId),
      ephemeralKeyMaterial: new Uint8Array(response.capsule.ephemeralKeyMaterial),
      capsuleType: capsuleTypeOf(endpoint, response.capsule.capsuleType),
      expiryTime: response.expiryTime,
    };
  }
  const response = await restRequest(endpoint.server, endpoint.url, endpoint.tls, {
    method: 'GET',
    path: `/key-capsules/${encodeURIComponent(transactionId)}`,
    headers: REST_ACCEPT,
    timeoutMs: endpoint.timeoutMs,
  });
  if (response.status !== 200) {
    throw httpError(endpoint.server, response.status, response.body);
  }
  let body: { recipient_id?: unknown; ephemeral_key_material?: unknown; capsule_type?: unknown };
  try {
    body = JSON.parse(response.body.toString('utf8')) as typeof body;
  } catch {
    throw new ServerError(`server "${endpoint.server.id}" answered with something other than JSON`, endpoint.server.id);
  }
  if (typeof body.recipient_id !== 'string' || typeof body.ephemeral_key_material !== 'string') {
    throw new ServerError(`server "${endpoint.server.id}" answered without a capsule`, endpoint.server.id);
  }
  return {
    recipientId: new Uint8Array(Buffer.from(body.recipient_id, 'base64')),
    ephemeralKeyMaterial: new Uint8Array(Buffer.from(body.ephemeral_key_material, 'base64')),
    capsuleType: capsuleTypeOf(endpoint, body.capsule_type),
    expiryTime: restExpiry(response.headers).expiryTime,
  };
}
