import { Metadata } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import {
  KeyShareRecipientServiceClient,
  KeyShareSenderServiceClient,
  type CreateKeyShareResponse,
  type CreateNonceResponse,
  type GetKeyShareResponse,
} from '../../gen/cdoc2/shares/v1/shares.js';
import { prepareAuthTicket, presentationFor, shareTicketUrl, signedJwt } from '../domain/shares/auth-ticket.js';
import { idFromLocation, unary, withGrpcClient, type Endpoint } from './capsules.js';
import { restRequest } from './connection.js';
import {
  ClientError,
  InvalidRequestError,
  NotAuthorizedError,
  OrganizationDuplicateError,
  ServerError,
  ThresholdNotMetError,
} from './errors.js';
import { shamirCombine, shamirSplit, xorAll, xorSplit } from './secret-sharing.js';
import type { TrustedServer } from './server-list.js';
import type { TicketSigner } from './signer.js';
import { httpError } from './wire-errors.js';

/** A share as a server keeps it (key-shares OpenAPI `KeyShare`). */
export interface KeyShare {
  readonly share: Uint8Array;
  /** `etsi/PNOEE-…` or `private/…`. */
  readonly recipient: string;
}

export interface CreatedShare {
  readonly shareId: string;
  readonly expiryTime: Date | undefined;
}

const REST_ACCEPT = { accept: 'application/json, application/problem+json' };

function parseJson(endpoint: Endpoint, body: Buffer): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  throw new ServerError(
    `server "${endpoint.server.id}" answered with something other than a JSON object`,
    endpoint.server.id,
  );
}

/** Stores one share (sender interface). Not retried, for the reason createCapsule gives. */
export async function createShare(endpoint: Endpoint, share: KeyShare, expiry?: Date): Promise<CreatedShare> {
  if (endpoint.url.transport === 'grpc') {
    const response = await withGrpcClient(endpoint, KeyShareSenderServiceClient, (client) =>
      unary<CreateKeyShareResponse>(endpoint, (options, callback) =>
        client.createKeyShare(
          { keyShare: { share: Buffer.from(share.share), recipient: share.recipient }, requestedExpiryTime: expiry },
          new Metadata(),
          options,
          callback,
        ),
      ),
    );
    return { shareId: response.shareId, expiryTime: response.expiryTime };
  }
  const response = await restRequest(endpoint.server, endpoint.url, endpoint.tls, {
    method: 'POST',
    path: '/key-shares',
    headers: { ...REST_ACCEPT, ...(expiry ? { 'x-expiry-time': expiry.toISOString() } : {}) },
    body: JSON.stringify({ share: Buffer.from(share.share).toString('base64'), recipient: share.recipient }),
    timeoutMs: endpoint.timeoutMs,
  });
  if (response.status !== 201) {
    throw httpError(endpoint.server, response.status, response.body);
  }
  const time = response.headers['x-expiry-time'];
  return {
    shareId: idFromLocation(endpoint, response.headers.location, 'key-shares'),
    expiryTime: typeof time === 'string' ? new Date(time) : undefined,
  };
}

/** Asks for a one-time nonce for the share (recipient interface). Safe to retry: a spare nonce just expires. */
export async function createNonce(endpoint: Endpoint, shareId: string): Promise<string> {
  if (endpoint.url.transport === 'grpc') {
    const response = await withGrpcClient(endpoint, KeyShareRecipientServiceClient, (client) =>
      unary<CreateNonceResponse>(endpoint, (options, callback) =>
        client.createNonce({ shareId }, new Metadata(), options, callback),
      ),
    );
    return response.nonce;
  }
  const response = await restRequest(endpoint.server, endpoint.url, endpoint.tls, {
    method: 'POST',
    path: `/key-shares/${encodeURIComponent(shareId)}/nonce`,
    headers: REST_ACCEPT,
    body: '{}',
    timeoutMs: endpoint.timeoutMs,
  });
  if (response.status !== 200) {
    throw httpError(endpoint.server, response.status, response.body);
  }
  const { nonce } = parseJson(endpoint, response.body);
  if (typeof nonce !== 'string' || nonce === '') {
    throw new ServerError(`server "${endpoint.server.id}" answered without a nonce`, endpoint.server.id);
  }
  return nonce;
}

/**
 * Fetches a share with this server's presentation of the auth ticket. Not retried: the server consumes the nonce
 * when it checks the ticket, so a second attempt needs a new nonce and therefore a new signature.
 */
export async function getShare(endpoint: Endpoint, shareId: string, ticket: string, x5c: string): Promise<KeyShare> {
  if (endpoint.url.transport === 'grpc') {
    const response = await withGrpcClient(endpoint, KeyShareRecipientServiceClient, (client) =>
      unary<GetKeyShareResponse>(endpoint, (options, callback) =>
        client.getKeyShare({ shareId, authTicket: ticket, authX5c: x5c }, new Metadata(), options, callback),
      ),
    );
    if (!response.keyShare) {
      throw new ServerError(`server "${endpoint.server.id}" answered without a share`, endpoint.server.id);
    }
    return { share: new Uint8Array(response.keyShare.share), recipient: response.keyShare.recipient };
  }
  const response = await restRequest(endpoint.server, endpoint.url, endpoint.tls, {
    method: 'GET',
    path: `/key-shares/${encodeURIComponent(shareId)}`,
    headers: { ...REST_ACCEPT, 'x-cdoc2-auth-ticket': ticket, 'x-cdoc2-auth-x5c': x5c },
    timeoutMs: endpoint.timeoutMs,
  });
  if (response.status !== 200) {
    throw httpError(endpoint.server, response.status, response.body);
  }
  const { share, recipient } = parseJson(endpoint, response.body);
  if (typeof share !== 'string' || typeof recipient !== 'string') {
    throw new ServerError(`server "${endpoint.server.id}" answered without a share`, endpoint.server.id);
  }
  return { share: new Uint8Array(Buffer.from(share, 'base64')), recipient };
}

/** n-of-n XOR (SC07) or t-of-n Shamir (SC08). */
export type SharingScheme = { readonly kind: 'n-of-n' } | { readonly kind: 'shamir'; readonly threshold: number };

export interface ShareReference {
  /** The server list id (never a URL: CDOC2 spec "CDOC2 CSS" > "Server identification and trust"). */
  readonly server: string;
  readonly shareId: string;
}

/**
 * Where the shares of one secret are: what a CDOC2 container header records for the recipient (the servers'
 * identifiers, the share ids, the recipient id), plus the scheme. JSON-serialisable as is.
 */
export interface SharedSecret {
  readonly recipient: string;
  readonly scheme: 'n-of-n' | 'shamir';
  /** Shares needed: n for n-of-n. */
  readonly threshold: number;
  readonly shares: readonly ShareReference[];
}

export type ShareProgress =
  | { readonly step: 'stored' | 'nonce' | 'fetched'; readonly server: string }
  | { readonly step: 'signed'; readonly servers: readonly string[] }
  | { readonly step: 'failed'; readonly server: string; readonly error: ClientError };

/** How the orchestration reaches a server: resolution by id and pinned TLS are the caller's (KeyServerClient). */
export interface ShareServers {
  server(id: string): TrustedServer;
  endpoint(server: TrustedServer, side: 'sender' | 'recipient'): Endpoint;
  /** Runs an idempotent call with the client's retry policy on UNAVAILABLE. */
  retrying<T>(call: () => Promise<T>): Promise<T>;
}

const RECIPIENT = /^(etsi\/[A-Z]{3}[A-Z]{2}-\S{1,20}|private\/[A-Za-z0-9]+\/\S{1,20})$/;

export function checkRecipient(recipient: string): void {
  if (!RECIPIENT.test(recipient) || recipient.length < 12 || recipient.length > 32) {
    throw new InvalidRequestError(
      `the recipient must be etsi/<type><country>-<id> (e.g. etsi/PNOEE-48010010101) or private/<vendor>/<id>, 12..32 characters; got "${recipient}"`,
    );
  }
}

/**
 * The servers of one secret: distinct, and run by distinct organizations (seed "Server identification and
 * trust": the organization identifier exists so that shares go to independent organizations).
 */
export function distinctOrganizations(servers: readonly TrustedServer[]): void {
  const byOrganization = new Map<string, string>();
  const ids = new Set<string>();
  for (const server of servers) {
    if (ids.has(server.id)) {
      throw new InvalidRequestError(`server "${server.id}" is named twice`);
    }
    ids.add(server.id);
    const other = byOrganization.get(server.organization);
    if (other !== undefined) {
      throw new OrganizationDuplicateError(server.organization, [other, server.id]);
    }
    byOrganization.set(server.organization, server.id);
  }
}

export interface StoreSecretRequest {
  /** The key (KEK) to split, 32..128 bytes (31..127 for Shamir, whose shares carry one more byte). */
  readonly secret: Uint8Array;
  readonly recipient: string;
  /** Server ids, one share each. */
  readonly servers: readonly string[];
  readonly scheme?: SharingScheme;
  readonly expiry?: Date;
  /**
   * A single server holds the whole secret (n-of-n with n = 1): refused unless asked for, for development only.
   */
  readonly allowSingleServer?: boolean;
  readonly onProgress?: (progress: ShareProgress) => void;
}

/** Settles every promise; throws the first failure (after reporting each) if any failed. */
async function allOrFirstFailure<T>(
  servers: readonly TrustedServer[],
  work: (server: TrustedServer, index: number) => Promise<T>,
  onProgress: ((progress: ShareProgress) => void) | undefined,
): Promise<T[]> {
  const settled = await Promise.allSettled(servers.map(work));
  const failures = settled.flatMap((result, index) =>
    result.status === 'rejected' ? [asClientError(result.reason, servers[index]?.id)] : [],
  );
  failures.forEach((error) => onProgress?.({ step: 'failed', server: error.serverId ?? '?', error }));
  const [first] = failures;
  if (first) {
    throw first;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

const asClientError = (error: unknown, serverId: string | undefined): ClientError =>
  error instanceof ClientError
    ? error
    : new ServerError(`server "${serverId ?? '?'}": ${(error as Error).message ?? String(error)}`, serverId ?? '?');

/** Splits a secret and stores one share on each server (sender side of SC07 / SC08). */
export async function storeSecret(servers: ShareServers, request: StoreSecretRequest): Promise<SharedSecret> {
  checkRecipient(request.recipient);
  const targets = request.servers.map((id) => servers.server(id));
  distinctOrganizations(targets);
  if (targets.length < 2 && !request.allowSingleServer) {
    throw new InvalidRequestError(
      'a secret needs servers of at least two organizations (one server would hold the whole secret)',
    );
  }
  const scheme = request.scheme ?? { kind: 'n-of-n' };
  const { secret } = request;
  let shares: Uint8Array[];
  try {
    shares =
      scheme.kind === 'n-of-n'
        ? xorSplit(secret, targets.length)
        : shamirSplit(secret, scheme.threshold, targets.length);
  } catch (error) {
    throw new InvalidRequestError((error as Error).message);
  }
  const shareLength = shares[0]?.length ?? 0;
  if (shareLength < 32 || shareLength > 128) {
    throw new InvalidRequestError(
      `a ${secret.length}-byte secret makes ${shareLength}-byte shares; the servers store 32..128 bytes`,
    );
  }
  const created = await allOrFirstFailure(
    targets,
    async (server, index) => {
      const result = await createShare(
        servers.endpoint(server, 'sender'),
        { share: shares[index] ?? new Uint8Array(), recipient: request.recipient },
        request.expiry,
      );
      request.onProgress?.({ step: 'stored', server: server.id });
      return result;
    },
    request.onProgress,
  );
  return {
    recipient: request.recipient,
    scheme: scheme.kind,
    threshold: scheme.kind === 'n-of-n' ? targets.length : scheme.threshold,
    shares: created.map(({ shareId }, index) => ({ server: targets[index]?.id ?? '', shareId })),
  };
}

/** The subject serialNumber (2.5.4.5) of a certificate, e.g. PNOEE-38001085718. */
function serialNumberOf(certificate: X509Certificate): string | undefined {
  const match = /(?:^|\n)serialNumber=([^\n]+)/.exec(certificate.subject);
  return match?.[1];
}

/** The x5c header as the CDOC2 1.0.1 clients send it: the certificate as PEM on one line. */
const oneLinePem = (certificate: X509Certificate): string => certificate.toString().replace(/\r?\n/g, '');

export interface FetchSecretRequest {
  readonly secret: SharedSecret;
  readonly signer: TicketSigner;
  readonly onProgress?: (progress: ShareProgress) => void;
}

/**
 * Fetches the shares and recombines the secret (recipient side, CDOC2 spec "CDOC2 CSS" > "CSS operating principles"): a
 * nonce from each server, ONE ticket naming every server's share URL with its nonce, ONE signature, and to each server
 * only its own disclosure, so that no server learns which other servers hold shares.
 */
export async function fetchSecret(servers: ShareServers, request: FetchSecretRequest): Promise<Uint8Array> {
  const { secret, signer, onProgress } = request;
  checkRecipient(secret.recipient);
  const targets = secret.shares.map((reference) => servers.server(reference.server));
  distinctOrganizations(targets);
  const needed = secret.scheme === 'n-of-n' ? secret.shares.length : secret.threshold;
  if (secret.scheme === 'shamir' && (needed < 2 || needed > secret.shares.length)) {
    throw new InvalidRequestError(`a threshold of ${needed} cannot be met by ${secret.shares.length} shares`);
  }
  const failures: ClientError[] = [];
  const fail = (error: unknown, server: TrustedServer): undefined => {
    const failure = asClientError(error, server.id);
    failures.push(failure);
    onProgress?.({ step: 'failed', server: server.id, error: failure });
    return undefined;
  };

  // 1. A nonce from every server (retried on UNAVAILABLE: a spare nonce is harmless).
  const nonces = await Promise.all(
    targets.map((server, index) =>
      servers
        .retrying(() => createNonce(servers.endpoint(server, 'recipient'), secret.shares[index]?.shareId ?? ''))
        .then((nonce) => {
          onProgress?.({ step: 'nonce', server: server.id });
          return nonce;
        })
        .catch((error: unknown) => fail(error, server)),
    ),
  );
  const reachable = targets.flatMap((server, index) => {
    const nonce = nonces[index];
    return nonce === undefined ? [] : [{ server, index, nonce }];
  });
  if (reachable.length < needed) {
    // Refused before asking for the signature: a person is not asked to sign for nothing.
    throw new ThresholdNotMetError(needed, reachable.length, failures);
  }

  // 2. One ticket, one signature.
  const unsigned = prepareAuthTicket({
    iss: secret.recipient,
    alg: signer.algorithm,
    urls: reachable.map(({ server, index, nonce }) =>
      shareTicketUrl(server.recipientUrl.ticketBaseUrl, secret.shares[index]?.shareId ?? '', nonce),
    ),
  });
  const { signature, certificate } = await signer.sign(Buffer.from(unsigned.signingInput, 'ascii'));
  const signerCertificate = new X509Certificate(Buffer.from(certificate));
  if (`etsi/${serialNumberOf(signerCertificate) ?? ''}` !== secret.recipient) {
    throw new NotAuthorizedError(
      `the signer's certificate names ${serialNumberOf(signerCertificate) ?? 'no serialNumber'}, not the recipient ${secret.recipient}`,
    );
  }
  const jwt = signedJwt(unsigned, signature);
  const x5c = oneLinePem(signerCertificate);
  onProgress?.({ step: 'signed', servers: reachable.map(({ server }) => server.id) });

  // 3. Each server gets only its own disclosure.
  const fetched = await Promise.all(
    reachable.map(({ server, index }, position) =>
      getShare(
        servers.endpoint(server, 'recipient'),
        secret.shares[index]?.shareId ?? '',
        presentationFor(jwt, unsigned, position),
        x5c,
      )
        .then((share) => {
          if (share.recipient !== secret.recipient) {
            throw new ServerError(`server "${server.id}" returned a share of another recipient`, server.id);
          }
          onProgress?.({ step: 'fetched', server: server.id });
          return share.share;
        })
        .catch((error: unknown) => fail(error, server)),
    ),
  );
  const shares = fetched.filter((share): share is Uint8Array => share !== undefined);
  if (shares.length < needed) {
    throw new ThresholdNotMetError(needed, shares.length, failures);
  }
  try {
    return secret.scheme === 'n-of-n' ? xorAll(shares) : shamirCombine(shares, needed);
  } catch (error) {
    throw new ServerError(`the shares do not combine: ${(error as Error).message}`);
  }
}

const sharedSecretSchema = z
  .object({
    recipient: z.string(),
    scheme: z.enum(['n-of-n', 'shamir']),
    threshold: z.number().int().min(1).max(255),
    shares: z
      .array(z.object({ server: z.string().min(1), shareId: z.string().min(1).max(64) }).strict())
      .min(1)
      .max(255),
  })
  .strict();

/** Validates a SharedSecret read back from JSON (what `cdoc2-client share put` prints). */
export function parseSharedSecret(input: unknown): SharedSecret {
  const parsed = sharedSecretSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidRequestError(
      `not a shared-secret description: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
