import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { connectionError, type PinnedTls } from './connection.js';
import {
  InvalidRequestError,
  NotAuthorizedError,
  NotFoundError,
  ServerError,
  UnavailableError,
  type ClientError,
} from './errors.js';
import type { TrustedServer } from './server-list.js';

/**
 * The server's error table (src/transport/error-table.ts) read backwards: each gRPC status and HTTP status the
 * servers answer with becomes one typed client error. Both transports therefore fail the same way for the caller.
 */
export function grpcError(server: TrustedServer, tls: PinnedTls, error: ServiceError): ClientError {
  const detail = error.details || error.message;
  switch (error.code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return new InvalidRequestError(`server "${server.id}" refused the request: ${detail}`, server.id);
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return new NotAuthorizedError(`server "${server.id}" did not accept the credentials: ${detail}`, server.id);
    case GrpcStatus.NOT_FOUND:
      return new NotFoundError(`server "${server.id}": ${detail}`, server.id);
    case GrpcStatus.UNAVAILABLE:
      // grpc-js reports a refused handshake as UNAVAILABLE: tell a trust failure from an outage.
      if (!tls.lastTrustFailure() && tls.presentsClientCertificate && tls.trustedHandshakes() > 0) {
        // TLS 1.3 completes the handshake on the client's side before the server judges the client certificate;
        // a server that passed every check of ours and then drops the connection refused our certificate
        // (grpc-js keeps the alert to itself, so this is inferred, not read).
        return new NotAuthorizedError(
          `server "${server.id}" closed the connection after the handshake: it did not accept the client certificate (${detail})`,
          server.id,
        );
      }
      return connectionError(server, tls, new Error(detail));
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new UnavailableError(`server "${server.id}": ${detail}`, server.id, { cause: error });
    default:
      return new ServerError(
        `server "${server.id}" failed: ${GrpcStatus[error.code] ?? error.code} ${detail}`,
        server.id,
      );
  }
}

/** The detail of an error answer: the problem+json `detail` when the server sent one, the status otherwise. */
function detailOf(status: number, body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { detail?: unknown; title?: unknown };
    if (typeof parsed.detail === 'string') {
      return parsed.detail;
    }
  } catch {
    // An empty body is what the official servers send.
  }
  return `HTTP ${status}`;
}

export function httpError(server: TrustedServer, status: number, body: Buffer): ClientError {
  const detail = detailOf(status, body);
  if (status === 400 || status === 413 || status === 415) {
    return new InvalidRequestError(`server "${server.id}" refused the request: ${detail}`, server.id);
  }
  if (status === 401 || status === 403) {
    return new NotAuthorizedError(`server "${server.id}" did not accept the credentials: ${detail}`, server.id);
  }
  if (status === 404) {
    return new NotFoundError(`server "${server.id}": ${detail}`, server.id);
  }
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return new UnavailableError(`server "${server.id}": ${detail}`, server.id);
  }
  return new ServerError(`server "${server.id}" answered ${detail}`, server.id);
}
