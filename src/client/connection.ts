import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import {
  checkServerIdentity as checkHostName,
  connect as tlsConnect,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { ClientError, ServerNotTrustedError, UnavailableError } from './errors.js';
import type { ClientIdentity } from './identity.js';
import type { ServerList, ServerUrl, TrustedServer } from './server-list.js';

/**
 * TLS to a listed server, with its key pinned (seed "Server identification and trust": "Upon connection to the
 * server, the client must always verify that the server is using one of the listed certificates").
 *
 * Both checks run inside the handshake: Node validates the chain (the list's CA, or the system store), then calls
 * `checkServerIdentity`, which checks the host name and then that the leaf is one of the pinned certificates. When
 * it returns an error the socket is destroyed before `secureConnect`; REST writes its request only after
 * `secureConnect`, and grpc-js opens its HTTP/2 session only then, so a refused server never sees a request byte.
 */
export interface PinnedTls {
  readonly secureContext: SecureContext;
  readonly checkServerIdentity: (host: string, certificate: PeerCertificate) => Error | undefined;
  /** The pin or host-name failure of the latest handshake, if it failed for that reason. */
  lastTrustFailure(): Error | undefined;
  /** Handshakes in which the server passed every check (its chain, its name, its pin). */
  trustedHandshakes(): number;
  /** Whether this connection presents a client certificate (the recipient interface of the capsule server). */
  readonly presentsClientCertificate: boolean;
}

export function pinnedTls(list: ServerList, server: TrustedServer, identity?: ClientIdentity): PinnedTls {
  const secureContext = createSecureContext({
    minVersion: 'TLSv1.3',
    // Undefined means Node's bundled root store (the "system store" of this process).
    ...(list.ca ? { ca: [...list.ca] } : {}),
    ...(identity?.kind === 'pem' ? { cert: identity.cert, key: identity.key } : {}),
    ...(identity?.kind === 'pkcs12'
      ? { pfx: identity.pfx, ...(identity.passphrase === undefined ? {} : { passphrase: identity.passphrase }) }
      : {}),
  });
  let failure: Error | undefined;
  let trusted = 0;
  const pins = server.certificates.map((certificate) => certificate.raw);
  return {
    secureContext,
    lastTrustFailure: () => failure,
    trustedHandshakes: () => trusted,
    presentsClientCertificate: identity !== undefined,
    checkServerIdentity: (host, certificate) => {
      failure = checkHostName(host, certificate);
      if (!failure && !pins.some((pin) => certificate.raw?.equals(pin))) {
        failure = new Error(
          `server "${server.id}" presented a certificate (SHA-256 ${certificate.fingerprint256}, subject ` +
            `${JSON.stringify(certificate.subject?.CN ?? '')}) that the server list does not pin for it`,
        );
      }
      trusted += failure ? 0 : 1;
      return failure;
    },
  };
}

/** OpenSSL's and Node's codes for a certificate that does not validate (chain, dates, host name). */
const TRUST_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The same failures as grpc-js reports them: only as text, inside an UNAVAILABLE status. */
const TRUST_ERROR_TEXT =
  /unable to verify|unable to get (local )?issuer|self[- ]signed certificate|certificate has expired|certificate is not yet valid|certificate revoked|does not match certificate's altnames|Hostname\/IP does not match/i;

/** A connection-level failure as a typed error: a trust failure is never mistaken for an outage. */
export function connectionError(server: TrustedServer, tls: PinnedTls, error: unknown): ClientError {
  if (error instanceof ClientError) {
    return error;
  }
  const pinFailure = tls.lastTrustFailure();
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? String(error);
  if (pinFailure) {
    return new ServerNotTrustedError(pinFailure.message, server.id, { cause: error });
  }
  if ((typeof code === 'string' && TRUST_ERROR_CODES.has(code)) || TRUST_ERROR_TEXT.test(message)) {
    return new ServerNotTrustedError(
      `server "${server.id}" presented a certificate that does not validate (${typeof code === 'string' ? code : message})`,
      server.id,
      { cause: error },
    );
  }
  return new UnavailableError(
    `server "${server.id}" could not be reached (${typeof code === 'string' ? code : message})`,
    server.id,
    {
      cause: error,
    },
  );
}

export interface RestRequest {
  readonly method: 'GET' | 'POST';
  /** Below the URL's base path, e.g. `/key-capsules`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export interface RestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Answers are a few hundred bytes; a server sending more is not speaking the CDOC2 API. */
const MAX_RESPONSE_BYTES = 1 << 20;

/** Completes the handshake (chain, host name, pin) before resolving: nothing is written to a refused server. */
function connectPinned(url: ServerUrl, tls: PinnedTls, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: url.host,
      port: url.port,
      ...(isIP(url.host) ? {} : { servername: url.host }),
      secureContext: tls.secureContext,
      checkServerIdentity: tls.checkServerIdentity,
      ALPNProtocols: ['http/1.1'],
    });
    const abort = (): void => {
      socket.destroy();
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', abort);
      resolve(socket);
    });
    socket.once('error', (error: Error) => {
      signal.removeEventListener('abort', abort);
      reject(error);
    });
  });
}

/** One HTTP/1.1 request over a fresh pinned TLS 1.3 connection, within `timeoutMs` from connect to last byte. */
export async function restRequest(
  server: TrustedServer,
  url: ServerUrl,
  tls: PinnedTls,
  request: RestRequest,
): Promise<RestResponse> {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new UnavailableError(`server "${server.id}" did not answer within ${request.timeoutMs} ms`, server.id),
      ),
    request.timeoutMs,
  );
  try {
    const socket = await connectPinned(url, tls, controller.signal);
    return await new Promise<RestResponse>((resolve, reject) => {
      const body = request.body === undefined ? undefined : Buffer.from(request.body);
      const req = httpRequest(
        {
          createConnection: () => socket,
          host: url.host,
          port: url.port,
          method: request.method,
          path: `${url.basePath}${request.path}`,
          headers: {
            ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
            ...request.headers,
          },
          signal: controller.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error(`the answer is longer than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            socket.end();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (error) => reject(controller.signal.aborted ? (controller.signal.reason as Error) : error));
      req.end(body);
    });
  } catch (error) {
    throw connectionError(server, tls, error);
  } finally {
    clearTimeout(timer);
  }
}
