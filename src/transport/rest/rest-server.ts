import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { unavailable } from '../../domain/errors.js';
import type { Logger } from '../../logging/logger.js';
import type { ConnectionClosures, ConnectionRefusals } from '../../observability/metrics.js';
import { ERROR_TABLE, INTERNAL_ERROR, mappingForHttpStatus, PROTOCOL_ERROR_TABLE } from '../error-table.js';
import { UNKNOWN_OPERATION, type ListenerName } from '../operations.js';
import { newRequestId, type RequestPipeline } from '../request-pipeline.js';
import {
  attachOcspStapling,
  MIN_TLS_VERSION,
  type OcspStapleSource,
  type ServerIdentity,
} from '../tls/tls-material.js';
import { REQUEST_ID_HEADER, sendError, writeRawError } from './error-reply.js';
import { keepTrace, traceOf } from './request-traces.js';
import { socketPeerIdentity } from '../tls/peer-identity.js';
import { aggregatedWarning, capConnections, queuePerConnection, type ListenerLimits } from '../connection-limits.js';
import { requestStarts } from '../turn-scheduler.js';

/** The largest legitimate body is a capsule of about 5.7 KB of JSON; anything past 16 KiB is refused with 413. */
const REST_BODY_LIMIT = 16 * 1024;

export interface RestListenerOptions {
  readonly name: ListenerName;
  readonly host: string;
  readonly port: number;
  readonly identity: ServerIdentity;
  /** Issuers of client certificates; when given, the listener asks every client for a certificate. */
  readonly clientCa?: readonly Buffer[];
  readonly logger: Logger;
  /** Registers the listener's routes. */
  readonly routes: (app: FastifyInstance) => void;
  /** The body of every 404 on this listener, so that unknown paths read like unknown ids (recipient listeners). */
  readonly notFoundDetail: string;
  /** Read an empty `application/json` body as no body (the key-shares nonce request is "empty or {}"). */
  readonly acceptEmptyJsonBody?: boolean;
  /** The OCSP response to staple on every handshake, if any. */
  readonly ocspStaple?: OcspStapleSource | undefined;
  /** Logs and counts every answered request, the same way the gRPC listeners do. */
  readonly pipeline: RequestPipeline;
  /** Connection, time and pipelining bounds (README "Limits"). */
  readonly limits: ListenerLimits;
  /** Counts the connections the connection cap refused. */
  readonly connectionRefusals?: ConnectionRefusals | undefined;
  /** Counts the connections the listener closed for what their clients did (pipelining too deep). */
  readonly connectionClosures?: ConnectionClosures | undefined;
}

export interface RestListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * One HTTPS listener of the REST gateway: TLS 1.3 only, strict JSON, every failure answered through the shared
 * error table and rendered by `error-reply.ts`, and one log line per request.
 */
export async function startRestListener(options: RestListenerOptions): Promise<RestListener> {
  const mutual = options.clientCa !== undefined;
  const loggerInstance: FastifyBaseLogger = options.logger;
  const { rest } = options.limits;
  const pipeliningWarning = aggregatedWarning(
    options.logger,
    { listener: options.name, maxPipelinedRequests: rest.maxPipelinedRequestsPerConnection },
    'connections closed for pipelining too deep',
  );
  const pipelining = {
    add(): void {
      options.connectionClosures?.connectionClosed(options.name, 'pipelining');
      pipeliningWarning.add();
    },
  };
  const httpsOptions: HttpsServerOptions = {
    cert: options.identity.certChain,
    key: options.identity.privateKey,
    minVersion: MIN_TLS_VERSION,
    handshakeTimeout: options.limits.handshakeTimeout,
    // Node checks the header and request timeouts on this period (30 s by default, which would let a silent
    // connection outlive a 10 s header timeout by up to 30 s).
    connectionsCheckingInterval: Math.min(1000, rest.headersTimeout),
    // The certificate is requested but judged in the handler, so that a client without a trusted one gets a
    // 401 that says why instead of a bare handshake failure (the CDOC2 OpenAPI promises a 401).
    ...(mutual ? { requestCert: true, rejectUnauthorized: false, ca: [...(options.clientCa ?? [])] } : {}),
  };
  const app = fastify({
    https: httpsOptions,
    // The server is made here so that pipelined requests queue per connection before Fastify sees them.
    serverFactory: (handler) => {
      const server = createHttpsServer(
        httpsOptions,
        queuePerConnection(
          handler,
          {
            maxConcurrent: rest.maxConcurrentRequestsPerConnection,
            maxQueued: rest.maxPipelinedRequestsPerConnection,
          },
          { scheduler: requestStarts, onOverflow: () => pipelining.add() },
        ),
      );
      server.requestTimeout = rest.requestTimeout;
      // Node's header timeout must not be longer than its request timeout, or Node swaps them at start (its
      // default header timeout, 60 s, is longer than the 30 s request timeout).
      server.headersTimeout = rest.headersTimeout;
      server.keepAliveTimeout = rest.keepAliveTimeout;
      // After this many requests on one connection Node answers `Connection: close` (and 503 past it).
      server.maxRequestsPerSocket = rest.maxRequestsPerConnection;
      // A connection on which nothing moves for this long is closed, unsent answers included: a client that
      // pipelines and stops reading (the queue then starts none of its requests) would otherwise hold its socket
      // and what it buffered forever, as Node sets no such timeout. Reading and writing both count as moving.
      server.timeout = rest.requestTimeout;
      return server;
    },
    bodyLimit: REST_BODY_LIMIT,
    // Fastify's own 503 has a JSON body of its own; the hook below answers through the error table instead.
    return503OnClosing: false,
    // Requests Node's HTTP parser refuses (bad request line, 431, 408) never become Fastify requests.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) {
        return;
      }
      if (error.code === 'HPE_PAUSED') {
        // Not a malformed request: Node stopped reading a connection whose pipelined answers were piling up, and
        // got more of its data anyway. Answers are still owed ahead of any error, so none is written out of order.
        socket.destroy();
        pipelining.add();
        return;
      }
      const mapping =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? PROTOCOL_ERROR_TABLE.header_fields_too_large
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? PROTOCOL_ERROR_TABLE.request_timeout
            : ERROR_TABLE.invalid_argument;
      const trace = options.pipeline.start({
        transport: 'rest',
        listener: options.name,
        operation: UNKNOWN_OPERATION,
        peer: addressOf(socket),
      });
      trace.refuse(mapping, `the HTTP request was refused before it was read (${error.code ?? 'parse error'})`);
      writeRawError(socket, mapping, trace.requestId);
      trace.finish(mapping.http);
    },
    loggerInstance,
    // Fastify's own request lines would log URLs and headers; the onResponse hook below logs one chosen line.
    // Lines logged through `request.log` carry the id under the name the request log line uses.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: newRequestId,
    ajv: {
      // Reject what the OpenAPI does not allow instead of quietly repairing it: no stripping of unknown fields,
      // no type coercion, no defaults.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
  });

  // Only JSON bodies are accepted: anything else is 415, not a string for the validator to puzzle over.
  app.removeContentTypeParser(['text/plain']);
  if (options.acceptEmptyJsonBody) {
    // Fastify's own parser (with its prototype-poisoning protection) for everything but the empty body.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text === '') {
        done(null, undefined);
        return;
      }
      // The default parser answers through `done`; it returns nothing to wait for.
      void parseJson(request, text, done);
    });
  }

  // First of all hooks: the request's pipeline trace (request-pipeline.ts), finished in `onResponse`.
  app.addHook('onRequest', (request, _reply, done) => {
    keepTrace(
      request,
      options.pipeline.start({
        transport: 'rest',
        listener: options.name,
        operation: request.routeOptions.config.operation ?? UNKNOWN_OPERATION,
        peer: addressOf(request.raw.socket),
        requestId: request.id,
      }),
    );
    done();
  });

  // Set by `close`: requests still arriving on open connections while the listener drains are answered 503.
  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw unavailable('the server is shutting down; try another instance');
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    // Key material must not be kept by any cache on the way.
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    // The id of the request's log line, where an error's reason is written even when the body is empty.
    reply.header(REQUEST_ID_HEADER, request.id);
    return payload;
  });

  // A client that closes its connection before the answer gets none; the request is recorded then, with outcome
  // `cancelled` and status 499 as nothing was sent (README "Health, metrics, logs"), not when the work ends.
  app.addHook('onRequestAbort', (request, done) => {
    traceOf(request)?.abandon('cancelled', 499, 'the client closed the connection before the answer');
    done();
  });

  app.addHook('onResponse', async (request, reply) => {
    const certificate = mutual ? socketPeerIdentity(tlsSocketOf(request.raw.socket))?.logSubject : undefined;
    traceOf(request)?.finish(reply.statusCode, certificate);
  });

  app.setNotFoundHandler((request, reply) => sendError(request, reply, ERROR_TABLE.not_found, options.notFoundDetail));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      // Fastify's text names the place and the rule (`body/capsule_type must be equal to one of the allowed values`).
      return sendError(request, reply, ERROR_TABLE.invalid_argument, error.message);
    }
    const status = error.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, 413, 415, …): their messages describe the request, nothing more.
      return sendError(request, reply, mappingForHttpStatus(status), error.message);
    }
    const trace = traceOf(request);
    if (!trace) {
      // Every request gets a trace in its first hook; an error without one is a bug, answered without details.
      return sendError(request, reply, INTERNAL_ERROR, 'internal error');
    }
    const { mapping, message } = trace.fail(error);
    return sendError(request, reply, mapping, message);
  });

  capConnections(app.server, options.limits.maxConnectionsPerListener, {
    listener: options.name,
    logger: options.logger,
    counter: options.connectionRefusals,
  });
  options.routes(app);
  if (options.ocspStaple) {
    attachOcspStapling(app.server, options.ocspStaple);
  }
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address() as AddressInfo;
  return {
    port: address.port,
    close: () => {
      closing = true;
      return app.close();
    },
  };
}

/** The TLS socket under a request, for reading the client certificate. */
export const tlsSocketOf = (socket: unknown): TLSSocket => socket as TLSSocket;

/** The client's address and port, as grpc-js reports a peer (`host:port`). */
const addressOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string =>
  `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
