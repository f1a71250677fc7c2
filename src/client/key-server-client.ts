import { setTimeout as sleep } from 'node:timers/promises';
import type { Capsule } from '../domain/capsules/capsule.js';
import { createCapsule, getCapsule, type CreatedCapsule, type Endpoint, type ReceivedCapsule } from './capsules.js';
import { pinnedTls } from './connection.js';
import { InvalidRequestError, UnavailableError } from './errors.js';
import type { ClientIdentity } from './identity.js';
import { loadServerList, serverById, type ServerList, type TrustedServer } from './server-list.js';
import {
  createNonce,
  createShare,
  fetchSecret,
  getShare,
  storeSecret,
  type CreatedShare,
  type FetchSecretRequest,
  type KeyShare,
  type SharedSecret,
  type ShareServers,
  type StoreSecretRequest,
} from './shares.js';

export interface KeyServerClientOptions {
  /** The trusted server list, or the path of its YAML/JSON file. */
  readonly servers: ServerList | string;
  /** The deadline of each call, connection included. Default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts of an idempotent call that meets UNAVAILABLE (capsule get, nonce). Default 3. */
  readonly attempts?: number;
  /** The first pause between attempts, doubled each time. Default 250 ms. */
  readonly retryDelayMs?: number;
}

/**
 * The typed client of both CDOC2 key servers. Every call names a server by its id in the trusted server list,
 * never by URL; every connection is TLS 1.3 with the server's certificate pinned (see connection.ts).
 */
export interface KeyServerClient {
  readonly servers: ServerList;
  /** Stores a key capsule on a KeyServerCapsule server (sender interface). Never retried (not idempotent). */
  createCapsule(serverId: string, capsule: Capsule, options?: { expiry?: Date }): Promise<CreatedCapsule>;
  /** Fetches a key capsule with mutual TLS as `identity` (recipient interface); retried on UNAVAILABLE. */
  getCapsule(serverId: string, transactionId: string, identity: ClientIdentity): Promise<ReceivedCapsule>;
  /** Stores one share on a KeySharesCapsule server. Never retried (not idempotent). */
  createShare(serverId: string, share: KeyShare, options?: { expiry?: Date }): Promise<CreatedShare>;
  /** Asks a shares server for a one-time nonce for a share; retried on UNAVAILABLE. */
  createNonce(serverId: string, shareId: string): Promise<string>;
  /** Fetches one share with a presentation of an auth ticket and the signer's certificate (x5c header form). */
  getShare(serverId: string, shareId: string, ticket: string, x5c: string): Promise<KeyShare>;
  /** Splits a secret across servers of distinct organizations and stores the shares. */
  storeSecret(request: StoreSecretRequest): Promise<SharedSecret>;
  /** Fetches the shares of a secret with one signature and recombines it. */
  fetchSecret(request: FetchSecretRequest): Promise<Uint8Array>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_ATTEMPTS = 3;
const DEFAULT_RETRY_DELAY_MS = 250;

export function createKeyServerClient(options: KeyServerClientOptions): KeyServerClient {
  const list = typeof options.servers === 'string' ? loadServerList(options.servers) : options.servers;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;

  const endpoint = (server: TrustedServer, side: 'sender' | 'recipient', identity?: ClientIdentity): Endpoint => {
    let tls;
    try {
      tls = pinnedTls(list, server, identity);
    } catch (error) {
      // A PKCS#12 file with the wrong passphrase, a key that is not PEM…
      throw new InvalidRequestError(`cannot use the client certificate and key: ${(error as Error).message}`);
    }
    return { server, url: side === 'sender' ? server.senderUrl : server.recipientUrl, tls, timeoutMs };
  };

  /** Retries only outages: a trust failure, a refusal or a missing item will not change on a second try. */
  const retrying = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof UnavailableError) || attempt >= attempts) {
          throw error;
        }
        await sleep(retryDelayMs * 2 ** (attempt - 1));
      }
    }
  };

  const shareServers: ShareServers = {
    server: (id) => serverById(list, id, 'KeySharesCapsule'),
    endpoint: (server, side) => endpoint(server, side),
    retrying,
  };

  return {
    servers: list,
    // async everywhere: a bad server id rejects the promise like any other failure, it never throws synchronously.
    createCapsule: async (serverId, capsule, { expiry } = {}) =>
      createCapsule(endpoint(serverById(list, serverId, 'KeyServerCapsule'), 'sender'), capsule, expiry),
    getCapsule: async (serverId, transactionId, identity) => {
      const target = endpoint(serverById(list, serverId, 'KeyServerCapsule'), 'recipient', identity);
      return retrying(() => getCapsule(target, transactionId));
    },
    createShare: async (serverId, share, { expiry } = {}) =>
      createShare(endpoint(shareServers.server(serverId), 'sender'), share, expiry),
    createNonce: async (serverId, shareId) => {
      const target = endpoint(shareServers.server(serverId), 'recipient');
      return retrying(() => createNonce(target, shareId));
    },
    getShare: async (serverId, shareId, ticket, x5c) =>
      getShare(endpoint(shareServers.server(serverId), 'recipient'), shareId, ticket, x5c),
    storeSecret: (request) => storeSecret(shareServers, request),
    fetchSecret: (request) => fetchSecret(shareServers, request),
  };
}
