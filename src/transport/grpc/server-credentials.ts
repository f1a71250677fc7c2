import { ServerCredentials } from '@grpc/grpc-js';
import { MIN_TLS_VERSION, type ServerIdentity } from '../tls/tls-material.js';

/**
 * grpc-js's `ServerCredentials.createSsl` still accepts TLS 1.2 and offers no way to raise the floor, so this
 * subclass passes `minVersion: TLSv1.3` through the public constructor of ServerCredentials, which grpc-js
 * spreads into `http2.createSecureServer` (spec/capsule-server.md "Two interfaces": TLS 1.2 and lower are refused).
 *
 * With `clientCa`, a client certificate is required and must chain to one of those issuers: a client without one
 * fails the handshake, and nothing reaches a handler.
 */
/** The largest header list (gRPC metadata) a call may send; legitimate calls send well under 1 KiB. */
export const MAX_METADATA_BYTES = 16 * 1024;

class Tls13ServerCredentials extends ServerCredentials {
  constructor(identity: ServerIdentity, clientCa: readonly Buffer[] | undefined) {
    const mutual = clientCa !== undefined;
    super(
      {
        requestCert: mutual,
        rejectUnauthorized: mutual,
        minVersion: MIN_TLS_VERSION,
        // grpc-js has no metadata limit of its own (it ignores grpc.max_metadata_size); HTTP/2 does.
        settings: { maxHeaderListSize: MAX_METADATA_BYTES },
      },
      {
        cert: identity.certChain,
        key: identity.privateKey,
        minVersion: MIN_TLS_VERSION,
        ...(mutual ? { ca: [...clientCa] } : {}),
      },
    );
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export const createTls13ServerCredentials = (
  identity: ServerIdentity,
  clientCa?: readonly Buffer[],
): ServerCredentials => new Tls13ServerCredentials(identity, clientCa);
