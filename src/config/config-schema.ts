import { z } from 'zod';
import { parseIsoDuration } from '../domain/duration.js';
import { parseBaseUrl } from '../domain/shares/ticket-url.js';

/**
 * The configuration file's schema (README "Configuration"): one typed object, validated once at start.
 * Objects are strict, so a misspelt key is an error rather than a silently ignored setting. Every default of the
 * server's configuration is written here and nowhere else; test/unit/config-defaults.test.ts holds the README
 * table and the OpenAPI text to these values.
 */
const duration = (fallback: string) =>
  z
    .string()
    .prefault(fallback)
    .transform((text, ctx) => {
      const parsed = parseIsoDuration(text);
      if ('error' in parsed) {
        ctx.issues.push({ code: 'custom', message: parsed.error, input: text });
        return z.NEVER;
      }
      return parsed.ms;
    });

/** A duration with bounds, e.g. a timer interval (setInterval takes 1 ms to about 24.8 days). */
const boundedDuration = (fallback: string, minMs: number, maxMs: number, bounds: string) =>
  duration(fallback).refine((ms) => ms >= minMs && ms <= maxMs, `must be between ${bounds}`);

const port = (fallback: number) => z.int().min(0).max(65535).prefault(fallback);

const positiveInt = (fallback: number, max: number) => z.int().min(1).max(max).prefault(fallback);

/**
 * A server's expiry section: the lifetime given when the sender asks for none, and the longest one allowed. Each
 * server has its own section with its own defaults, so that changing one server's never changes the other's.
 */
const expirySection = (defaultLifetime: string, maxLifetime: string) =>
  z
    .strictObject({ default: duration(defaultLifetime), max: duration(maxLifetime) })
    .prefault({})
    .check((ctx) => {
      if (ctx.value.default > ctx.value.max) {
        ctx.issues.push({
          code: 'custom',
          message: 'the default must not be longer than the max',
          input: ctx.value,
          path: ['default'],
        });
      }
      if (ctx.value.default <= 0) {
        ctx.issues.push({ code: 'custom', message: 'must be longer than zero', input: ctx.value, path: ['default'] });
      }
    });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z.strictObject({
  database: z
    .strictObject({
      /** `mysql://user:pass@host:3306/db` or `sqlite:path` (relative to the configuration file). */
      url: z
        .string()
        .regex(/^(mysql|sqlite):/, 'must start with mysql:// or sqlite:')
        .prefault('sqlite:./var/cdoc2.sqlite'),
      /** Run pending migrations at start (Knex takes a lock, so several instances starting at once are safe). */
      migrate: z.boolean().prefault(true),
      /** How long a starting instance waits for another instance's migration before it gives up. */
      migrationLockTimeout: boundedDuration('PT2M', 1000, 3_600_000, 'PT1S and PT1H'),
      pool: z.strictObject({ max: positiveInt(10, 1000) }).prefault({}),
      /** The bound on one store operation, connection wait included; past it the request is 503 / UNAVAILABLE. */
      queryTimeout: boundedDuration('PT5S', 100, 600_000, 'PT0.1S and PT10M'),
      /** The bound on the readiness check (/health/ready, gRPC health): a hung database reads as not ready. */
      readinessTimeout: boundedDuration('PT1S', 100, 60_000, 'PT0.1S and PT1M'),
    })
    .prefault({}),
  /** The address every listener binds. Loopback by default: exposing a server is a decision, not an accident. */
  host: z.string().min(1).prefault('127.0.0.1'),
  /** This server's identity on every listener. Absent only in the zero-configuration development start. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  capsules: z
    .strictObject({
      enabled: z.boolean().prefault(true),
      /** PEM files of the issuers trusted for recipients' client certificates. */
      clientCa: z.array(z.string().min(1)).prefault([]),
      ports: z
        .strictObject({
          restSender: port(8443),
          restRecipient: port(8444),
          grpcSender: port(50051),
          grpcRecipient: port(50052),
        })
        .prefault({}),
      /** Three years by default, five at most (README "Configuration"; CDOC2 spec "CDOC2 CCS" > "Server state"). */
      expiry: expirySection('P1095D', 'P1825D'),
    })
    .prefault({}),
  shares: z
    .strictObject({
      enabled: z.boolean().prefault(true),
      ports: z.strictObject({ rest: port(8445), grpc: port(50053) }).prefault({}),
      /** The public base URLs that tickets may name; never taken from request headers. */
      baseUrls: z
        .array(
          z.string().check((ctx) => {
            const parsed = parseBaseUrl(ctx.value);
            if ('error' in parsed) {
              ctx.issues.push({ code: 'custom', message: parsed.error, input: ctx.value });
            }
          }),
        )
        .prefault([]),
      /** PEM files of the issuers of authentication certificates (Smart-ID, Mobile-ID). */
      trustedIssuers: z.array(z.string().min(1)).prefault([]),
      nonceTtl: boundedDuration('PT5M', 1000, 86_400_000, 'PT1S and P1D'),
      /** Live (unused, unexpired) nonces one share may have. */
      maxNoncesPerShare: positiveInt(16, 1000),
      /** The shares server's own lifetimes (README "Configuration"); today the same values as the capsules'. */
      expiry: expirySection('P1095D', 'P1825D'),
    })
    .prefault({}),
  /** OCSP for recipients' client certificates and auth-ticket signers (README "Certificate trust and revocation"). */
  revocation: z
    .strictObject({
      /** hard-fail by default: a revoked ID-card must get nothing, even while its responder is unreachable. */
      mode: z.enum(['off', 'soft-fail', 'hard-fail']).prefault('hard-fail'),
      /** Overrides the certificates' AIA OCSP URL. */
      responderUrl: z
        .string()
        .regex(/^https?:\/\/[^\s]+$/, 'must be an http or https URL')
        .optional(),
      timeout: boundedDuration('PT3S', 100, 60_000, 'PT0.1S and PT1M'),
      /** For responses without nextUpdate: how old they may be, and how long a good one is cached. */
      maxResponseAge: boundedDuration('PT1H', 1000, 7 * 86_400_000, 'PT1S and P7D'),
      cacheSize: positiveInt(10_000, 1_000_000),
      /** Staple this server's own OCSP response on every listener, where a responder is known for it. */
      stapling: z.boolean().prefault(true),
    })
    .prefault({}),
  /** The operations listener, plain HTTP (README "Health, metrics, logs"). */
  management: z
    .strictObject({
      enabled: z.boolean().prefault(true),
      /** Loopback by default: health and metrics are for the machine's own agents unless you decide otherwise. */
      host: z.string().min(1).prefault('127.0.0.1'),
      port: port(9090),
      /** When set, /metrics requires `Authorization: Bearer <token>`. */
      metricsToken: z.string().prefault(''),
    })
    .prefault({}),
  /**
   * Bounds on what one client can hold or queue (README "Limits"), so that no client starves the others: every
   * listener caps its connections and its TLS handshake time; gRPC listeners bound streams, idle time and age
   * and probe silent peers; REST listeners bound header, request and keep-alive times and the requests one
   * connection may queue.
   */
  limits: z
    .strictObject({
      /** Connections one listener holds at once; a connection past it is closed at once. */
      maxConnectionsPerListener: positiveInt(1000, 1_000_000),
      /** A TLS handshake not finished in this time is dropped. */
      handshakeTimeout: boundedDuration('PT10S', 100, 600_000, 'PT0.1S and PT10M'),
      grpc: z
        .strictObject({
          /** Concurrent calls (HTTP/2 streams) on one connection; the stream past it is refused. */
          maxConcurrentStreams: positiveInt(100, 100_000),
          /** A connection with no call for this long is closed (GOAWAY). */
          maxConnectionIdle: boundedDuration('PT5M', 100, 86_400_000, 'PT0.1S and P1D'),
          /** A connection older than this is asked to reconnect (GOAWAY), spreading clients over instances. */
          maxConnectionAge: boundedDuration('PT1H', 100, 30 * 86_400_000, 'PT0.1S and P30D'),
          /** How long calls may still finish after that GOAWAY before the connection is cut. */
          maxConnectionAgeGrace: boundedDuration('PT30S', 100, 86_400_000, 'PT0.1S and P1D'),
          /** The server pings every connection this often, and cuts a peer that does not answer the ping ... */
          keepaliveTime: boundedDuration('PT30S', 100, 86_400_000, 'PT0.1S and P1D'),
          /** ... within this time (a vanished, frozen or misbehaving peer no longer holds a socket). */
          keepaliveTimeout: boundedDuration('PT10S', 100, 3_600_000, 'PT0.1S and PT1H'),
        })
        .prefault({}),
      rest: z
        .strictObject({
          /** The time a client has to send a request's headers. */
          headersTimeout: boundedDuration('PT10S', 100, 600_000, 'PT0.1S and PT10M'),
          /** The time a client has to send a whole request (headers and body). */
          requestTimeout: boundedDuration('PT30S', 100, 600_000, 'PT0.1S and PT10M'),
          /** How long an idle keep-alive connection stays open after a response. */
          keepAliveTimeout: boundedDuration('PT5S', 100, 600_000, 'PT0.1S and PT10M'),
          /**
           * Requests one connection may send (pipelined or one after another); the response at the limit says
           * `Connection: close`, requests past it get a cheap 503 from the HTTP layer and never reach a handler.
           */
          maxRequestsPerConnection: positiveInt(100, 1_000_000),
          /** Requests of one connection in progress at once; pipelined ones past it wait their turn. */
          maxConcurrentRequestsPerConnection: positiveInt(4, 1000),
          /** Pipelined requests of one connection waiting their turn; a connection with more is closed. */
          maxPipelinedRequestsPerConnection: positiveInt(16, 100_000),
        })
        .prefault({})
        .refine((rest) => rest.headersTimeout <= rest.requestTimeout, {
          message: 'headersTimeout must not be longer than requestTimeout',
          path: ['headersTimeout'],
        }),
    })
    .prefault({}),
  /** The periodic deletion of expired rows. */
  cleanup: z
    .strictObject({
      interval: boundedDuration('PT1M', 1000, 86_400_000, 'PT1S and P1D'),
      batchSize: positiveInt(500, 100_000),
      maxBatches: positiveInt(20, 10_000),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).prefault('info'),
      pretty: z.boolean().prefault(false),
    })
    .prefault({}),
});

/** The validated configuration; durations are milliseconds, paths are absolute. */
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
