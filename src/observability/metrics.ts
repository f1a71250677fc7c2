import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CertificateRefusalReason, CertificateRefusals } from '../domain/certificate-trust.js';

/** What the request pipeline (src/transport/request-pipeline.ts) reports about each request answered. */
export interface RequestObserver {
  observe(transport: 'rest' | 'grpc', operation: string, outcome: string, durationMs: number): void;
}

/** Counts connections refused by a listener's connection cap. */
export interface ConnectionRefusals {
  connectionRefused(listener: string): void;
}

/**
 * Why a listener closed an established connection itself (README "Limits"): `rapid_reset`, the connection made
 * too many empty calls (HTTP/2 rapid reset, transport/grpc/reset-guard.ts); `pipelining`, a REST connection
 * pipelined more requests than may wait (transport/connection-limits.ts). A fixed set, so the label is bounded.
 */
export const CONNECTION_CLOSURE_REASONS = ['rapid_reset', 'pipelining'] as const;
export type ConnectionClosureReason = (typeof CONNECTION_CLOSURE_REASONS)[number];

/** Counts connections a listener closed because of what the client did on them. */
export interface ConnectionClosures {
  connectionClosed(listener: string, reason: ConnectionClosureReason): void;
}

export interface RevocationCounters {
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly responderFailures: number;
  readonly refusals: number;
}

/** The database connection pool's current use (Knex's tarn pool). */
export interface PoolUse {
  readonly used: number;
  readonly free: number;
  readonly pendingAcquires: number;
}

export interface Metrics extends RequestObserver, CertificateRefusals, ConnectionRefusals, ConnectionClosures {
  readonly registry: Registry;
  cleanupDeleted(count: number): void;
}

/**
 * Prometheus metrics (prom-client), one registry per server instance: requests by operation, transport and
 * outcome, their latency, cleanup deletions, OCSP counters, and Node's process metrics. Labels never carry ids,
 * keys or names: operations are fixed names and outcomes are a fixed code set.
 */
export function createMetrics(revocation: () => RevocationCounters, pool: () => PoolUse): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'cdoc2_requests_total',
    help: 'Requests answered, by operation, transport and outcome (one code set for both transports: ok, not_found, ...)',
    labelNames: ['operation', 'transport', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'cdoc2_request_duration_seconds',
    help: 'Time to answer a request, by operation and transport',
    labelNames: ['operation', 'transport'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const deleted = new Counter({
    name: 'cdoc2_cleanup_deleted_total',
    help: 'Expired capsules, shares and nonces deleted by the cleanup',
    registers: [registry],
  });
  const revocationGauge = (name: string, help: string, read: (counters: RevocationCounters) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(revocation()));
      },
    });
  };
  revocationGauge('cdoc2_ocsp_cache_hits', 'OCSP answers served from the cache since start', (c) => c.cacheHits);
  revocationGauge('cdoc2_ocsp_cache_misses', 'OCSP checks that asked a responder since start', (c) => c.cacheMisses);
  revocationGauge(
    'cdoc2_ocsp_responder_failures',
    'OCSP checks without a trustworthy answer since start',
    (c) => c.responderFailures,
  );
  const refused = new Counter({
    name: 'cdoc2_certificates_refused',
    help: 'Certificates refused on any listener or as ticket signers, by reason: missing, untrusted, expired, invalid, revocation',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Every reason from the start, so that a dashboard sees zeros rather than absent series.
  const reasons: readonly CertificateRefusalReason[] = ['missing', 'untrusted', 'expired', 'invalid', 'revocation'];
  reasons.forEach((reason) => refused.inc({ reason }, 0));
  const connectionsRefused = new Counter({
    name: 'cdoc2_connections_refused_total',
    help: 'Connections refused by a listener because it held limits.maxConnectionsPerListener, by listener',
    labelNames: ['listener'] as const,
    registers: [registry],
  });
  const connectionsClosed = new Counter({
    name: 'cdoc2_connections_closed_total',
    help: 'Established connections a listener closed because of what the client did on them, by listener and reason (rapid_reset, pipelining)',
    labelNames: ['listener', 'reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'cdoc2_database_pool_connections',
    help: 'Database connections by state: used, free, and requests waiting for one (pending)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const use = pool();
      this.set({ state: 'used' }, use.used);
      this.set({ state: 'free' }, use.free);
      this.set({ state: 'pending' }, use.pendingAcquires);
    },
  });
  return {
    registry,
    observe(transport, operation, outcome, durationMs) {
      requests.inc({ operation, transport, outcome });
      duration.observe({ operation, transport }, durationMs / 1000);
    },
    cleanupDeleted(count) {
      deleted.inc(count);
    },
    refused(reason) {
      refused.inc({ reason });
    },
    connectionRefused(listener) {
      connectionsRefused.inc({ listener });
    },
    connectionClosed(listener, reason) {
      connectionsClosed.inc({ listener, reason });
    },
  };
}
