import { Server, ServerCredentials } from '@grpc/grpc-js';
import { once } from 'node:events';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { CertificateRefusals } from '../../domain/certificate-trust.js';
import type { Logger } from '../../logging/logger.js';
import { judgeClientSocket, reportRefusal } from '../tls/certificate-refusal.js';
import type { GrpcTlsOptions } from './grpc-tls-options.js';
import { callRefusal, type RefuseCall } from './call-refusal.js';
import { metadataLimit } from './metadata-limit.js';
import { resetBudget, resetGuard, type CallOrigin } from './reset-guard.js';
import { sweepFailedStreams } from './failed-stream-sweep.js';
import { aggregatedWarning, capConnections, type ListenerLimits } from '../connection-limits.js';
import type { ConnectionClosures, ConnectionRefusals } from '../../observability/metrics.js';
import { attachOcspStapling, type OcspStapleSource } from '../tls/tls-material.js';
import { createHealthService, serviceNameOf, type HealthSource } from './health-service.js';
import type { ReflectionInstaller } from './reflection.js';
import type { BoundService } from './unary.js';
import { operationForGrpcPath, type ListenerName } from '../operations.js';
import type { RequestPipeline } from '../request-pipeline.js';

export interface GrpcListener {
  readonly port: number;
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then cancels what is left. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Bounds on what one call may send: the largest legitimate request is a capsule of about 4.3 KB, so a generous
 * 64 KiB limit still refuses absurd messages before they are decoded. (Metadata: metadata-limit.ts.)
 */
const MESSAGE_LIMITS = {
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
};

/**
 * grpc-js's documented server options for the connection bounds (README "Limits"). Keepalive pings are what
 * close a connection whose peer vanished or stopped reading.
 */
const serverOptions = ({ grpc }: ListenerLimits, onEmptyCall: (origin: CallOrigin) => void, refuse: RefuseCall) => ({
  ...MESSAGE_LIMITS,
  interceptors: [resetGuard(onEmptyCall), metadataLimit(refuse)],
  // Sent as the HTTP/2 setting SETTINGS_MAX_CONCURRENT_STREAMS: the stream past it is refused (REFUSED_STREAM).
  'grpc.max_concurrent_streams': grpc.maxConcurrentStreams,
  'grpc.max_connection_idle_ms': grpc.maxConnectionIdle,
  'grpc.max_connection_age_ms': grpc.maxConnectionAge,
  'grpc.max_connection_age_grace_ms': grpc.maxConnectionAgeGrace,
  'grpc.keepalive_time_ms': grpc.keepaliveTime,
  'grpc.keepalive_timeout_ms': grpc.keepaliveTimeout,
});

/** The listener's name in request logs: that of the operations it serves (operations.ts). */
function listenerOf(services: readonly BoundService[]): ListenerName {
  const method = services.flatMap((service) => Object.values(service.definition))[0];
  if (!method) {
    throw new Error('a gRPC listener serves no operation');
  }
  return operationForGrpcPath(method.path).listener;
}

export interface GrpcListenerOptions {
  /** The listener's name in logs and metrics, e.g. `capsules-grpc-recipient`. */
  readonly name: string;
  /** Where the listener logs connection and certificate refusals. */
  readonly logger: Logger;
  /** Records the calls an interceptor answers before their handler (call-refusal.ts). */
  readonly pipeline: RequestPipeline;
  /** The OCSP response to staple on every handshake, if any. */
  readonly ocspStaple?: OcspStapleSource | undefined;
  /** Serve grpc.health.v1.Health following this source. */
  readonly health?: HealthSource | undefined;
  /** Serve gRPC server reflection. */
  readonly reflection?: ReflectionInstaller | undefined;
  /** Connection bounds (README "Limits"). */
  readonly limits: ListenerLimits;
  /** Counts the connections the connection cap refused. */
  readonly connectionRefusals?: ConnectionRefusals | undefined;
  /** Counts the connections the listener closed for what their clients did (rapid reset). */
  readonly connectionClosures?: ConnectionClosures | undefined;
  /** Counts client-certificate refusals, on mutual-TLS listeners. */
  readonly certificateRefusals?: CertificateRefusals | undefined;
}

/**
 * One gRPC listener: a `node:tls` server of its own does the TLS 1.3 handshake (stapling its OCSP response,
 * judging the client certificate, capping connections), and hands each finished connection to grpc-js through
 * its documented connection injector (`Server.createConnectionInjector`, grpc-js >= 1.10). grpc-js then speaks
 * HTTP/2 over the TLS socket as it would over its own: the socket is a `TLSSocket`, so `call.getAuthContext()`
 * still gives handlers the client certificate. (Before, stapling and the cap reached into grpc-js's private
 * HTTP/2 servers.) The injector is given insecure credentials because TLS is already done; nothing reaches it
 * but sockets that finished this server's handshake.
 */
export async function startGrpcListener(
  host: string,
  port: number,
  { tls, mutual }: GrpcTlsOptions,
  services: readonly BoundService[],
  options: GrpcListenerOptions,
): Promise<GrpcListener> {
  const { ocspStaple, health, reflection, limits, name, logger } = options;
  /**
   * The open connections, by the client's address and port (as grpc-js reports them for each call). A connection
   * that makes too many empty calls (a rapid-reset attacker, reset-guard.ts) or has too many failed streams
   * (failed-stream-sweep.ts) is closed here: nghttp2 would send it GOAWAY and stop reading without closing it,
   * leaving the socket open until the keepalive ping (40 s by default).
   */
  const connections = new Map<string, { readonly socket: TLSSocket; readonly budget: { take(): boolean } }>();
  const keyOf = (origin: CallOrigin): string => `${origin.remoteAddress}|${origin.remotePort}`;
  const rapidResets = aggregatedWarning(logger, { listener: name }, 'connections closed for rapid reset');
  /**
   * Closes a connection past its reset budget at once, without a GOAWAY: every moment it stays open the server
   * reads more of its streams (with a 250 ms grace, about 590 more per attacker connection; README "Limits").
   */
  const closeForRapidReset = (key: string): void => {
    const connection = connections.get(key);
    if (connection && connections.delete(key)) {
      rapidResets.add();
      options.connectionClosures?.connectionClosed(name, 'rapid_reset');
      connection.socket.destroy();
    }
  };
  const onEmptyCall = (origin: CallOrigin): void => {
    const key = keyOf(origin);
    if (connections.get(key)?.budget.take() === false) {
      closeForRapidReset(key);
    }
  };
  const refuse = callRefusal(options.pipeline, listenerOf(services));
  const server = new Server(serverOptions(limits, onEmptyCall, refuse));
  const names = services.map(serviceNameOf);
  const all = health ? [...services, createHealthService(names, health)] : services;
  for (const service of all) {
    server.addService(service.definition, service.implementation);
  }
  reflection?.(server, names);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const sweep = sweepFailedStreams(server, connections, closeForRapidReset);
  let closing = false;
  const tlsServer = createTlsServer(tls, (socket: TLSSocket) => {
    // Errors of an open connection end it; HTTP/2 logs nothing of them either.
    socket.on('error', () => {});
    if (closing || socket.alpnProtocol !== 'h2') {
      socket.destroy();
      return;
    }
    if (mutual) {
      const verdict = judgeClientSocket(socket);
      if (!verdict.trusted) {
        reportRefusal(logger, options.certificateRefusals, name, verdict);
        socket.destroy();
        return;
      }
    }
    const key = keyOf(socket);
    connections.set(key, { socket, budget: resetBudget() });
    socket.once('close', () => {
      if (connections.get(key)?.socket === socket) {
        connections.delete(key);
      }
    });
    injector.injectConnection(socket);
  });
  // A failed handshake (TLS 1.2, no shared protocol, a timeout) is the client's; the socket is already closed.
  tlsServer.on('tlsClientError', () => {});
  capConnections(tlsServer, limits.maxConnectionsPerListener, {
    listener: name,
    logger,
    counter: options.connectionRefusals,
  });
  if (ocspStaple) {
    attachOcspStapling(tlsServer, ocspStaple);
  }
  tlsServer.listen(port, host);
  // Rejects with the listen error (e.g. EADDRINUSE).
  await once(tlsServer, 'listening');
  const address = tlsServer.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        closing = true;
        sweep.stop();
        tlsServer.close();
        const timer = setTimeout(() => {
          server.forceShutdown();
          connections.forEach(({ socket }) => socket.destroy());
          resolve();
        }, graceMs);
        // GOAWAY on every connection; each closes when its calls are done.
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
