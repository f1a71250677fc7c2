import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import {
  KeyCapsuleRecipientServiceClient,
  KeyCapsuleSenderServiceClient,
  type CreateKeyCapsuleRequest,
  type CreateKeyCapsuleResponse,
  type GetKeyCapsuleRequest,
  type GetKeyCapsuleResponse,
} from '../../gen/cdoc2/capsules/v1/capsules.js';
import {
  KeyShareRecipientServiceClient,
  KeyShareSenderServiceClient,
  type CreateKeyShareRequest,
  type CreateKeyShareResponse,
  type GetKeyShareRequest,
  type GetKeyShareResponse,
} from '../../gen/cdoc2/shares/v1/shares.js';
import { configSchema, type ConfigInput } from '../../src/config/config-schema.js';
import { resolveConfig, type ResolvedConfig } from '../../src/config/resolve-config.js';
import { createLogger } from '../../src/logging/logger.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { startApp, type CapsulePorts, type RunningApp, type SharePorts } from '../../src/main/app.js';
import { createTestDatabase, type TestDatabase } from './mysql.js';
import { createTestClock, type TestClock } from './test-clock.js';
import { getTestPki, type TestPki } from './test-pki.js';

/** The public base URL the test shares servers are configured with (it need not resolve: tickets only name it). */
export const TEST_SHARES_BASE_URL = 'https://css.test';

export interface TestServer {
  readonly app: RunningApp;
  readonly ports: CapsulePorts;
  readonly sharePorts: SharePorts;
  readonly clock: TestClock;
  readonly pki: TestPki;
  readonly config: ResolvedConfig;
  close(): Promise<void>;
}

/**
 * Starts the whole server as `cdoc2-keyserver serve` would (real TLS, every listener on an ephemeral port on
 * 127.0.0.1), on a fresh MariaDB database of its own, with a clock the test controls.
 */
export interface TestServerOptions {
  /** Where the server's JSON log lines go (they are discarded otherwise, unless TEST_LOG_LEVEL is set). */
  readonly logDestination?: NodeJS.WritableStream;
}

export async function startTestServer(
  overrides: Partial<ConfigInput> = {},
  { logDestination }: TestServerOptions = {},
): Promise<TestServer> {
  const pki = await getTestPki();
  // A database of the test's own on the shared server, unless the test brings its own (a private MariaDB, a cluster).
  const database: TestDatabase | undefined = overrides.database?.url ? undefined : await createTestDatabase();
  const clock = createTestClock();
  const parsed = configSchema.parse({
    database: { url: database?.url },
    host: '127.0.0.1',
    tls: pki.serverFiles,
    log: { level: process.env['TEST_LOG_LEVEL'] ?? 'silent' },
    // The tests' PKI has no OCSP responder; the revocation suites start one and turn this on.
    revocation: { mode: 'off' },
    management: { port: 0 },
    ...overrides,
    capsules: {
      clientCa: [pki.caFile],
      ports: { restSender: 0, restRecipient: 0, grpcSender: 0, grpcRecipient: 0 },
      ...overrides.capsules,
    },
    shares: {
      baseUrls: [TEST_SHARES_BASE_URL],
      trustedIssuers: [pki.authCaFile],
      ports: { rest: 0, grpc: 0 },
      ...overrides.shares,
    },
  });
  // The same resolution as `serve`: the TLS material is read and checked before anything starts.
  const config = await resolveConfig({ config: parsed, file: undefined });
  const app = await startApp(config, {
    logger: createLogger({ level: config.log.level, pretty: false }, logDestination),
    clock,
  });
  if (!app.capsulePorts || !app.sharePorts) {
    throw new Error('the servers did not start');
  }
  return {
    app,
    ports: app.capsulePorts,
    sharePorts: app.sharePorts,
    clock,
    pki,
    config,
    close: async () => {
      await app.close();
      await database?.drop();
    },
  };
}

/** Asks for RFC 9457 problem details on errors (the default error body is empty, as from the official servers). */
export const PROBLEM_ACCEPT: Readonly<Record<string, string>> = { accept: 'application/problem+json' };

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * What two answers that must not be told apart (unknown, expired, not yours) may differ in: nothing but `Date` and
 * the request's own `x-request-id`.
 */
export const comparableAnswer = (res: HttpResponse): Omit<HttpResponse, 'headers'> & { headers: object } => {
  const { date: _date, 'x-request-id': _requestId, ...headers } = res.headers;
  return { status: res.status, headers, body: res.body };
};

export interface HttpRequest {
  readonly port: number;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** The client certificate to present, if any. */
  readonly client?: IssuedCertificate;
  /** Aborts the request (closing its connection) when it fires. */
  readonly signal?: AbortSignal;
}

/** One HTTPS request over a fresh TLS 1.3 connection that trusts only the test CA. */
export async function https(pki: TestPki, request: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: request.port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        ca: pki.ca.certPem,
        minVersion: 'TLSv1.3',
        agent: false,
        ...(request.client ? { cert: request.client.certPem, key: request.client.keyPem } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}

const grpcCredentials = (pki: TestPki, client?: IssuedCertificate) =>
  credentials.createSsl(
    Buffer.from(pki.ca.certPem),
    client ? Buffer.from(client.keyPem) : null,
    client ? Buffer.from(client.certPem) : null,
  );

const CHANNEL_OPTIONS = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

/** `ownConnection`: a connection of the client's own (grpc-js otherwise shares one between equal clients). */
export const senderClient = (pki: TestPki, port: number, ownConnection = false): KeyCapsuleSenderServiceClient =>
  new KeyCapsuleSenderServiceClient(`127.0.0.1:${port}`, grpcCredentials(pki), {
    ...CHANNEL_OPTIONS,
    ...(ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });

export const recipientClient = (
  pki: TestPki,
  port: number,
  client?: IssuedCertificate,
): KeyCapsuleRecipientServiceClient =>
  new KeyCapsuleRecipientServiceClient(`127.0.0.1:${port}`, grpcCredentials(pki, client), CHANNEL_OPTIONS);

type Callback<Response> = (error: ServiceError | null, response: Response) => void;

/** Runs one unary call as a promise; rejects with the ServiceError. */
export function call<Response>(invoke: (callback: Callback<Response>) => unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    invoke((error, response) => (error ? reject(error) : resolve(response)));
  });
}

export const grpcCreateCapsule = (
  client: KeyCapsuleSenderServiceClient,
  request: Partial<CreateKeyCapsuleRequest>,
): Promise<CreateKeyCapsuleResponse> =>
  call<CreateKeyCapsuleResponse>((callback) =>
    client.createKeyCapsule({ capsule: undefined, requestedExpiryTime: undefined, ...request }, callback),
  );

export const grpcGetCapsule = (
  client: KeyCapsuleRecipientServiceClient,
  request: GetKeyCapsuleRequest,
): Promise<GetKeyCapsuleResponse> => call<GetKeyCapsuleResponse>((callback) => client.getKeyCapsule(request, callback));

export const shareSenderClient = (pki: TestPki, port: number): KeyShareSenderServiceClient =>
  new KeyShareSenderServiceClient(`127.0.0.1:${port}`, grpcCredentials(pki), CHANNEL_OPTIONS);

export const shareRecipientClient = (pki: TestPki, port: number): KeyShareRecipientServiceClient =>
  new KeyShareRecipientServiceClient(`127.0.0.1:${port}`, grpcCredentials(pki), CHANNEL_OPTIONS);

export const grpcCreateShare = (
  client: KeyShareSenderServiceClient,
  request: Partial<CreateKeyShareRequest>,
): Promise<CreateKeyShareResponse> =>
  call<CreateKeyShareResponse>((callback) =>
    client.createKeyShare({ keyShare: undefined, requestedExpiryTime: undefined, ...request }, callback),
  );

export const grpcCreateNonce = (client: KeyShareRecipientServiceClient, shareId: string): Promise<string> =>
  call<{ nonce: string }>((callback) => client.createNonce({ shareId }, callback)).then((response) => response.nonce);

export const grpcGetShare = (
  client: KeyShareRecipientServiceClient,
  request: GetKeyShareRequest,
): Promise<GetKeyShareResponse> => call<GetKeyShareResponse>((callback) => client.getKeyShare(request, callback));

/** The status of GET /health/ready on a management port. */
export const readiness = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/health/ready' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
