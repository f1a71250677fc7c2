import type { TlsOptions } from 'node:tls';
import type { ListenerLimits } from '../connection-limits.js';
import { MIN_TLS_VERSION, type ServerIdentity } from '../tls/tls-material.js';

/**
 * The TLS side of a gRPC listener, as options of its own `node:tls` server (grpc-listener.ts): the listener does
 * the handshake itself and hands the finished connection to grpc-js, so that every TLS setting is Node's
 * documented one rather than whatever grpc-js's credentials pass through.
 *
 * - TLS 1.3 only (CDOC2 spec "CDOC2 CCS" > "Interface security"; README "Architecture": TLS 1.2 and lower
 *   are refused).
 * - ALPN `h2` only: gRPC is HTTP/2, and a client that cannot speak it gets no connection.
 * - With `clientCa`, a client certificate is requested and must chain to one of those issuers. TLS checks the
 *   chain, but the verdict is enforced by the listener right after the handshake (the connection is closed before
 *   grpc-js reads a byte of it), so that every refusal is logged and counted: with rejectUnauthorized, OpenSSL's
 *   refusal left no trace. In TLS 1.3 the client sees the same either way, a connection closed after its side of
 *   the handshake (UNAVAILABLE).
 */
export interface GrpcTlsOptions {
  readonly tls: TlsOptions;
  /** True when a client certificate is required, whose verdict the listener must enforce. */
  readonly mutual: boolean;
}

export const grpcTlsOptions = (
  identity: ServerIdentity,
  limits: ListenerLimits,
  clientCa?: readonly Buffer[],
): GrpcTlsOptions => ({
  mutual: clientCa !== undefined,
  tls: {
    cert: identity.certChain,
    key: identity.privateKey,
    minVersion: MIN_TLS_VERSION,
    ALPNProtocols: ['h2'],
    handshakeTimeout: limits.handshakeTimeout,
    ...(clientCa !== undefined ? { requestCert: true, rejectUnauthorized: false, ca: [...clientCa] } : {}),
  },
});
