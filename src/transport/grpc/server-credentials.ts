import { ServerCredentials } from '@grpc/grpc-js';
import type { ListenerLimits } from '../connection-limits.js';
import { MAX_HEADER_LIST_BYTES } from './metadata-limit.js';
import { MIN_TLS_VERSION, type ServerIdentity } from '../tls/tls-material.js';

/**
 * grpc-js's `ServerCredentials.createSsl` still accepts TLS 1.2 and offers no way to raise the floor, so this
 * subclass passes `minVersion: TLSv1.3` through the public constructor of ServerCredentials, which grpc-js
 * spreads into `http2.createSecureServer` (spec/capsule-server.md "Two interfaces": TLS 1.2 and lower are refused).
 *
 * With `clientCa`, a client certificate is required and must chain to one of those issuers: a client without one
 * has its connection closed right after the handshake (grpc-listener.ts), and nothing reaches a handler.
 */

class Tls13ServerCredentials extends ServerCredentials {
  readonly mutual: boolean;

  constructor(identity: ServerIdentity, clientCa: readonly Buffer[] | undefined, limits: ListenerLimits) {
    const mutual = clientCa !== undefined;
    super(
      {
        requestCert: mutual,
        // TLS checks the chain, but the verdict is enforced by grpc-listener.ts right after the handshake (it
        // closes the connection before any call is read), so that every refusal is logged and counted: with
        // rejectUnauthorized, OpenSSL's refusal left no trace. In TLS 1.3 the client sees the same either way,
        // a connection closed after its side of the handshake (UNAVAILABLE).
        rejectUnauthorized: false,
        minVersion: MIN_TLS_VERSION,
        handshakeTimeout: limits.handshakeTimeout,
        // Node's default of 128 header fields would reset streams below the byte bound (with a racing code);
        // HTTP/2 counts 32 octets per field, so the byte bound alone allows no more than this.
        maxHeaderListPairs: MAX_HEADER_LIST_BYTES / 32,
        settings: {
          // grpc-js ignores grpc.max_metadata_size: HTTP/2 bounds the header list, metadata-limit.ts the metadata.
          maxHeaderListSize: MAX_HEADER_LIST_BYTES,
          // Here rather than grpc.max_concurrent_streams, which these settings would replace.
          maxConcurrentStreams: limits.grpc.maxConcurrentStreams,
        },
      },
      {
        cert: identity.certChain,
        key: identity.privateKey,
        minVersion: MIN_TLS_VERSION,
        ...(mutual ? { ca: [...clientCa] } : {}),
      },
    );
    this.mutual = mutual;
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export const createTls13ServerCredentials = (
  identity: ServerIdentity,
  limits: ListenerLimits,
  clientCa?: readonly Buffer[],
): ServerCredentials => new Tls13ServerCredentials(identity, clientCa, limits);

/** True for credentials that ask for a client certificate, whose verdict the listener must enforce. */
export const requiresClientCertificate = (credentials: ServerCredentials): boolean =>
  credentials instanceof Tls13ServerCredentials && credentials.mutual;
