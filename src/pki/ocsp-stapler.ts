import { X509Certificate } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { createOcspRequest, fetchOcspResponse, OCSP_CLOCK_SKEW_MS, ocspUrlOf, verifyOcspResponse } from './ocsp.js';
import { splitPemCertificates } from './pem.js';

export interface StaplerOptions {
  /** This server's certificate chain (PEM): the leaf, then its issuer. */
  readonly certChainPem: string;
  /** Overrides the leaf's AIA OCSP URL. */
  readonly responderUrl: string | undefined;
  readonly timeoutMs: number;
  /** For responses without nextUpdate: how long one is served. */
  readonly maxResponseAgeMs: number;
  readonly clock: Clock;
  readonly logger: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

export interface OcspStapler {
  /** The current verified response (DER) to staple, or undefined: never waits, so a handshake is never blocked. */
  response(): Buffer | undefined;
  stop(): void;
}

const RETRY_MS = 60_000;

/**
 * OCSP stapling of this server's own certificate (CDOC2 spec "CDOC2 CCS" > "Interface security": clients validate the
 * server certificate with OCSP on every connection). The response is fetched in the background, verified like any
 * other, and refreshed half-way to its nextUpdate; handshakes only ever read the last good one. Without a known
 * responder (no AIA, no override) or without the issuer in the chain, nothing is stapled.
 */
export function createOcspStapler(options: StaplerOptions): OcspStapler {
  const [leafPem, issuerPem] = splitPemCertificates(options.certChainPem);
  const url = leafPem ? (options.responderUrl ?? ocspUrlOf(new X509Certificate(leafPem))) : undefined;
  let current: { der: Buffer; validUntil: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  if (!leafPem || !issuerPem || !url) {
    options.logger.info(
      { reason: !url ? 'no OCSP responder is known for the server certificate' : 'tls.cert holds no issuer' },
      'OCSP stapling off',
    );
    return { response: () => undefined, stop: () => undefined };
  }
  const leaf = new X509Certificate(leafPem);
  const issuer = new X509Certificate(issuerPem);

  const schedule = (delayMs: number): void => {
    if (!stopped) {
      timer = setTimeout(() => void refresh(), Math.max(1000, Math.min(delayMs, 86_400_000)));
      timer.unref();
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      const der = await fetchOcspResponse(url, createOcspRequest(leaf, issuer), options.timeoutMs);
      const now = options.clock.now();
      const answer = verifyOcspResponse(der, leaf, issuer, {
        now,
        skewMs: OCSP_CLOCK_SKEW_MS,
        maxAgeMs: options.maxResponseAgeMs,
      });
      if (answer.status !== 'good') {
        // Stapling a "revoked" answer would only tell clients what they will find out anyway; log it loudly.
        options.logger.warn({ status: answer.status }, 'the server certificate is not good according to OCSP');
        current = undefined;
        schedule(RETRY_MS);
        return;
      }
      const validUntil = answer.validUntil.getTime();
      current = { der, validUntil };
      schedule((validUntil - now.getTime()) / 2);
    } catch (error) {
      options.logger.warn({ reason: (error as Error).message }, 'OCSP stapling: fetching the response failed');
      schedule(RETRY_MS);
    }
  };

  void refresh();
  return {
    response: () => (current && current.validUntil > options.clock.now().getTime() ? current.der : undefined),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
