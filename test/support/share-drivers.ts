import { expect } from 'chai';
import type { KeyShare } from '../../gen/cdoc2/shares/v1/shares.js';
import {
  grpcCreateNonce,
  grpcCreateShare,
  grpcGetShare,
  shareRecipientClient,
  shareSenderClient,
} from './test-server.js';
import { https, PROBLEM_ACCEPT, type HttpResponse, type TestServer } from './test-server.js';
import { restCreateShare } from './rest-round-trip.js';
import { expectOk, grpcOutcome, mapOutcome, restOutcome, type Outcome } from './transport-outcome.js';

/** What a create answers, whichever wire carried it. */
export interface CreatedShare {
  readonly shareId: string;
  readonly expiryTime: Date;
  readonly expiryTimeAdjusted: boolean;
}

export interface FetchedShare {
  readonly share: Buffer;
  readonly recipient: string;
}

/** The three operations of the shares server (README "The shares server") over one transport, answers normalised. */
export interface ShareDriver {
  create(share: Uint8Array, recipient: string, requestedExpiryTime?: Date): Promise<Outcome<CreatedShare>>;
  createNonce(shareId: string): Promise<Outcome<string>>;
  get(shareId: string, ticket: string, x5c: string): Promise<Outcome<FetchedShare>>;
  close(): void;
}

export interface ShareTransport {
  readonly name: 'REST' | 'gRPC';
  driver(server: TestServer): ShareDriver;
}

/** The 1.0.1 header names of the ticket and its certificate (openapi/cdoc2-key-shares.yaml). */
export const ticketHeaders = (ticket: string, x5c: string): Record<string, string> => ({
  'x-cdoc2-auth-ticket': ticket,
  'x-cdoc2-auth-x5c': x5c,
});

/** GET /key-shares/{shareId} with the headers given (problem details asked for). */
export const restGet = (
  server: TestServer,
  shareId: string,
  headers: Record<string, string>,
  port = server.sharePorts.rest,
): Promise<HttpResponse> =>
  https(server.pki, {
    port,
    method: 'GET',
    path: `/key-shares/${shareId}`,
    headers: { ...PROBLEM_ACCEPT, ...headers },
  });

/** POST /key-shares/{shareId}/nonce, with no body or the body given as JSON. */
export const restNonce = (server: TestServer, shareId: string, body?: string): Promise<HttpResponse> =>
  https(server.pki, {
    port: server.sharePorts.rest,
    method: 'POST',
    path: `/key-shares/${shareId}/nonce`,
    headers: body === undefined ? PROBLEM_ACCEPT : { ...PROBLEM_ACCEPT, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
  });

/** A REST share: must be JSON, never cached, keys in the OpenAPI's order with standard padded base64. */
function restShare(res: HttpResponse): FetchedShare {
  expect(res.headers['content-type']).to.match(/^application\/json/);
  // Key material must not be kept by any cache on the way.
  expect(res.headers['cache-control']).to.equal('no-store');
  const body = JSON.parse(res.body) as { share: string; recipient: string };
  const share = Buffer.from(body.share, 'base64');
  expect(res.body).to.equal(JSON.stringify({ share: share.toString('base64'), recipient: body.recipient }));
  return { share, recipient: body.recipient };
}

export const REST_SHARES: ShareTransport = {
  name: 'REST',
  driver: (server) => ({
    async create(share, recipient, requestedExpiryTime) {
      const res = await restCreateShare(server.pki, server.sharePorts.rest, share, recipient, {
        ...PROBLEM_ACCEPT,
        ...(requestedExpiryTime ? { 'x-expiry-time': requestedExpiryTime.toISOString() } : {}),
      });
      return restOutcome(res, 201, () => {
        const location = String(res.headers['location']);
        expect(location).to.match(/^\/key-shares\/[0-9a-f]{32}$/);
        expect(res.headers['x-expiry-time-adjusted']).to.be.oneOf(['true', 'false']);
        return {
          shareId: location.slice('/key-shares/'.length),
          expiryTime: new Date(String(res.headers['x-expiry-time'])),
          expiryTimeAdjusted: res.headers['x-expiry-time-adjusted'] === 'true',
        };
      });
    },
    async createNonce(shareId) {
      const res = await restNonce(server, shareId);
      return restOutcome(res, 200, () => {
        expect(res.headers['content-type']).to.match(/^application\/json/);
        const body = JSON.parse(res.body) as { nonce: string };
        expect(body).to.have.all.keys('nonce');
        return body.nonce;
      });
    },
    async get(shareId, ticket, x5c) {
      const res = await restGet(server, shareId, ticketHeaders(ticket, x5c));
      return restOutcome(res, 200, () => restShare(res));
    },
    close: () => undefined,
  }),
};

/** A gRPC key share; the server always sends one with a successful answer (proto/cdoc2/shares/v1/shares.proto). */
function grpcShare(keyShare: KeyShare | undefined): FetchedShare {
  expect(keyShare, 'key_share').to.not.equal(undefined);
  return { share: Buffer.from(keyShare?.share ?? []), recipient: keyShare?.recipient ?? '' };
}

export const GRPC_SHARES: ShareTransport = {
  name: 'gRPC',
  driver(server) {
    const sender = shareSenderClient(server.pki, server.sharePorts.grpc);
    const recipient = shareRecipientClient(server.pki, server.sharePorts.grpc);
    return {
      create: async (share, recipientId, requestedExpiryTime) =>
        mapOutcome(
          await grpcOutcome(
            grpcCreateShare(sender, {
              keyShare: { share: Buffer.from(share), recipient: recipientId },
              requestedExpiryTime,
            }),
          ),
          (created) => {
            expect(created.expiryTime, 'expiry_time').to.be.instanceOf(Date);
            return {
              shareId: created.shareId,
              expiryTime: created.expiryTime ?? new Date(Number.NaN),
              expiryTimeAdjusted: created.expiryTimeAdjusted,
            };
          },
        ),
      createNonce: (shareId) => grpcOutcome(grpcCreateNonce(recipient, shareId)),
      get: async (shareId, authTicket, authX5c) =>
        mapOutcome(await grpcOutcome(grpcGetShare(recipient, { shareId, authTicket, authX5c })), (response) =>
          grpcShare(response.keyShare),
        ),
      close() {
        sender.close();
        recipient.close();
      },
    };
  },
};

/** Every transport the shares server speaks: a case in the matrix runs over each. */
export const SHARE_TRANSPORTS: readonly ShareTransport[] = [REST_SHARES, GRPC_SHARES];

/** Stores a share and returns its id; the store must succeed. */
export const storeShare = async (driver: ShareDriver, share: Uint8Array, recipient: string): Promise<string> =>
  expectOk(await driver.create(share, recipient)).shareId;

/** A fresh nonce for the share; the request must succeed. */
export const newNonce = async (driver: ShareDriver, shareId: string): Promise<string> =>
  expectOk(await driver.createNonce(shareId));

/** The share a ticket unlocks; the GET must succeed. */
export const fetchShare = async (
  driver: ShareDriver,
  shareId: string,
  ticket: string,
  x5c: string,
): Promise<FetchedShare> => expectOk(await driver.get(shareId, ticket, x5c));
