import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';

/**
 * This server's identity and trust anchors, already read from disk by `main`. Every listener, REST and gRPC, is
 * built from these, so that the TLS policy below is the same on all of them.
 */
export interface ServerIdentity {
  /** PEM: the server certificate followed by any intermediates. */
  readonly certChain: Buffer;
  /** PEM private key. */
  readonly privateKey: Buffer;
}

/** Chain rules and revocation for a client certificate (main wires it to src/pki/certificate-trust.ts). */
export type ClientTrustCheck = (certificateDer: Uint8Array, presentedChain: readonly Uint8Array[]) => Promise<void>;

/** Supplies the OCSP response to staple, if any; called during handshakes, so it must not wait. */
export type OcspStapleSource = () => Buffer | undefined;

/**
 * Answers clients' status requests (TLS certificate_status) with the stapled OCSP response, if there is one.
 * Node asks through the TLS server's 'OCSPRequest' event; `null` means "nothing to staple".
 */
export function attachOcspStapling(server: EventEmitter, staple: OcspStapleSource): void {
  server.on(
    'OCSPRequest',
    (_certificate: Buffer, _issuer: Buffer, callback: (error: Error | null, response: Buffer | null) => void) => {
      callback(null, staple() ?? null);
    },
  );
}

/** The TLS version floor of every listener (CDOC2 spec "CDOC2 CCS" > "Interface security"; README "Architecture"). */
export const MIN_TLS_VERSION = 'TLSv1.3';

/** Checks that the certificate and key parse and belong together; returns a problem description or undefined. */
export function checkServerIdentity({ certChain, privateKey }: ServerIdentity): string | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certChain);
  } catch {
    return 'tls.cert: not a PEM certificate';
  }
  let key;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    return 'tls.key: not a PEM private key (or it is encrypted)';
  }
  if (!certificate.checkPrivateKey(key)) {
    return 'tls.key: does not belong to the certificate in tls.cert';
  }
  return undefined;
}
