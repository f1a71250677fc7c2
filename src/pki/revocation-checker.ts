import type { X509Certificate } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { LruCache } from '../domain/lru-cache.js';
import {
  createOcspRequest,
  fetchOcspResponse,
  OCSP_CLOCK_SKEW_MS,
  ocspUrlOf,
  OcspError,
  verifyOcspResponse,
} from './ocsp.js';

export type RevocationMode = 'off' | 'soft-fail' | 'hard-fail';

export interface RevocationOptions {
  readonly mode: RevocationMode;
  /** Overrides every certificate's AIA OCSP URL. */
  readonly responderUrl: string | undefined;
  readonly timeoutMs: number;
  /** For responses without nextUpdate: how old thisUpdate may be, and how long such a good answer is cached. */
  readonly maxResponseAgeMs: number;
  /** Good answers kept at most (least recently used are dropped first). */
  readonly cacheSize: number;
  readonly clock: Clock;
  readonly logger: { warn(object: object, message: string): void };
}

/** Counters for operators, exported on /metrics (src/observability/metrics.ts). */
export interface RevocationStats {
  cacheHits: number;
  cacheMisses: number;
  responderFailures: number;
  refusals: number;
}

export type RevocationVerdict =
  /**
   * `until`: the instant (epoch ms) up to which this good answer may be relied on without asking again; absent
   * when the certificate was allowed without an answer (soft-fail), which must not be remembered.
   */
  | { readonly ok: true; readonly until?: number }
  /** `reason` is safe to send to the client and to log: it names no person. */
  | { readonly ok: false; readonly reason: string };

export interface RevocationChecker {
  /** Asks (or remembers) whether `certificate`, issued by `issuer`, is revoked, and applies the policy. */
  check(certificate: X509Certificate, issuer: X509Certificate): Promise<RevocationVerdict>;
  readonly stats: RevocationStats;
}

/**
 * OCSP checking with the `revocation` policy (README "Certificate trust and revocation"): `off` checks nothing;
 * `hard-fail` refuses when no trustworthy answer can be had (no responder, unreachable, timeout, bad signature, stale);
 * `soft-fail` allows in those cases but still refuses `revoked` and `unknown`. Good answers are cached until
 * nextUpdate. Concurrent checks of one certificate share one responder request (single flight): the first requests on a
 * busy server all arrive before the first answer.
 */
export function createRevocationChecker(options: RevocationOptions): RevocationChecker {
  const stats: RevocationStats = { cacheHits: 0, cacheMisses: 0, responderFailures: 0, refusals: 0 };
  /** Cache key → the instant until which the good answer may be used. */
  const good = new LruCache<string, number>(options.cacheSize);

  const refuse = (reason: string): RevocationVerdict => {
    stats.refusals++;
    return { ok: false, reason };
  };

  /** Checks under way, by cache key: later callers wait for the same answer. */
  const inFlight = new Map<string, Promise<RevocationVerdict>>();

  const unreliable = (reason: string): RevocationVerdict => {
    stats.responderFailures++;
    options.logger.warn({ reason, mode: options.mode }, 'revocation status unavailable');
    return options.mode === 'hard-fail' ? refuse(`revocation status unavailable: ${reason}`) : { ok: true };
  };

  const ask = async (
    certificate: X509Certificate,
    issuer: X509Certificate,
    key: string,
  ): Promise<RevocationVerdict> => {
    const now = options.clock.now();
    const url = options.responderUrl ?? ocspUrlOf(certificate);
    if (!url) {
      return unreliable('the certificate names no OCSP responder');
    }
    let answer;
    try {
      const der = await fetchOcspResponse(url, createOcspRequest(certificate, issuer), options.timeoutMs);
      answer = verifyOcspResponse(der, certificate, issuer, {
        now,
        skewMs: OCSP_CLOCK_SKEW_MS,
        maxAgeMs: options.maxResponseAgeMs,
      });
    } catch (error) {
      const reason =
        error instanceof OcspError
          ? error.message
          : (error as Error).name === 'TimeoutError'
            ? 'the responder did not answer in time'
            : 'the responder cannot be reached';
      return unreliable(reason);
    }
    if (answer.status === 'revoked') {
      return refuse('the certificate is revoked');
    }
    if (answer.status === 'unknown') {
      return refuse('the certificate is unknown to its OCSP responder');
    }
    const until = answer.validUntil.getTime();
    good.set(key, until);
    return { ok: true, until };
  };

  return {
    stats,
    async check(certificate, issuer) {
      if (options.mode === 'off') {
        return { ok: true, until: Number.POSITIVE_INFINITY };
      }
      const key = `${issuer.fingerprint256}/${certificate.serialNumber}`;
      const until = good.get(key);
      if (until !== undefined && until > options.clock.now().getTime()) {
        stats.cacheHits++;
        return { ok: true, until };
      }
      good.delete(key);
      const pending = inFlight.get(key);
      if (pending) {
        stats.cacheHits++;
        return pending;
      }
      stats.cacheMisses++;
      const asked = ask(certificate, issuer, key).finally(() => inFlight.delete(key));
      inFlight.set(key, asked);
      return asked;
    },
  };
}
