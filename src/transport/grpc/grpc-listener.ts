import { Server, type ServerCredentials } from '@grpc/grpc-js';
import type { Server as NetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertificateRefusals } from '../../domain/certificate-trust.js';
import type { Logger } from '../../logging/logger.js';
import { judgeClientSocket, reportRefusal } from '../tls/certificate-refusal.js';
import { requiresClientCertificate } from './server-credentials.js';
import { metadataLimit } from './metadata-limit.js';
import { capConnections, type ListenerLimits } from '../connection-limits.js';
import { attachOcspStapling, type OcspStapleSource } from '../tls/tls-material.js';
import { createHealthService, serviceNameOf, type HealthSource } from './health-service.js';
import type { ReflectionInstaller } from './reflection.js';
import type { BoundService } from './unary.js';

export interface GrpcListener {
  readonly port: number;
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then cancels what is left. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Bounds on what one call may send: the largest legitimate request is a capsule of about 4.3 KB, so a generous
 * 64 KiB limit still refuses absurd messages before they are decoded. (Metadata is bounded by the HTTP/2
 * settings in server-credentials.ts.)
 */
const MESSAGE_LIMITS = {
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
};

/**
 * grpc-js's documented server options for the connection bounds (README "Limits"). Keepalive pings are what
 * close a connection whose peer vanished or stopped reading, e.g. after HTTP/2 sent it GOAWAY for a rapid-reset
 * flood: without them such a socket stayed open until restart. (The stream limit is an HTTP/2 setting, sent by
 * server-credentials.ts, because grpc-js's own would be overridden by the credentials' settings.)
 */
const serverOptions = ({ grpc }: ListenerLimits) => ({
  ...MESSAGE_LIMITS,
  interceptors: [metadataLimit],
  'grpc.max_connection_idle_ms': grpc.maxConnectionIdle,
  'grpc.max_connection_age_ms': grpc.maxConnectionAge,
  'grpc.max_connection_age_grace_ms': grpc.maxConnectionAgeGrace,
  'grpc.keepalive_time_ms': grpc.keepaliveTime,
  'grpc.keepalive_timeout_ms': grpc.keepaliveTimeout,
});

/**
 * grpc-js does not expose its HTTP/2 servers, and OCSP stapling needs their 'OCSPRequest' event (and the
 * connection cap their `maxConnections`): this reads its private `http2Servers` map, and fails loudly (the start
 * fails) rather than silently not stapling if a grpc-js upgrade renames it. The version is pinned by the lock
 * file and the stapling and connection-cap tests cover it.
 */
function http2ServersOf(server: Server): NetServer[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    throw new Error('OCSP stapling: this grpc-js version does not keep its HTTP/2 servers where expected');
  }
  return [...(servers as Map<NetServer, unknown>).keys()];
}

export interface GrpcListenerOptions {
  /** The OCSP response to staple on every handshake, if any. */
  readonly ocspStaple?: OcspStapleSource | undefined;
  /** Serve grpc.health.v1.Health following this source. */
  readonly health?: HealthSource | undefined;
  /** Serve gRPC server reflection. */
  readonly reflection?: ReflectionInstaller | undefined;
  /** Connection bounds; the defaults of the configuration schema when absent. */
  readonly limits: ListenerLimits;
  /** Hears of each connection refused by the connection cap. */
  readonly onConnectionRefused?: (() => void) | undefined;
  /** Where client-certificate refusals are logged (name, logger) and counted, on mutual-TLS listeners. */
  readonly refusals?: { readonly listener: string; readonly logger: Logger; readonly counter?: CertificateRefusals };
}

export async function startGrpcListener(
  host: string,
  port: number,
  credentials: ServerCredentials,
  services: readonly BoundService[],
  { ocspStaple, health, reflection, limits, onConnectionRefused, refusals }: GrpcListenerOptions,
): Promise<GrpcListener> {
  const server = new Server(serverOptions(limits));
  const names = services.map(serviceNameOf);
  const all = health ? [...services, createHealthService(names, health)] : services;
  for (const service of all) {
    server.addService(service.definition, service.implementation);
  }
  reflection?.(server, names);
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  const mutual = requiresClientCertificate(credentials);
  for (const http2Server of http2ServersOf(server)) {
    capConnections(http2Server, limits.maxConnectionsPerListener, onConnectionRefused);
    if (mutual) {
      // Runs right after the HTTP/2 session is set up on the socket, before any of its frames is read.
      http2Server.on('secureConnection', (socket: TLSSocket) => {
        const verdict = judgeClientSocket(socket);
        if (!verdict.trusted) {
          if (refusals) {
            reportRefusal(refusals.logger, refusals.counter, refusals.listener, verdict);
          }
          socket.destroy();
        }
      });
    }
    if (ocspStaple) {
      attachOcspStapling(http2Server, ocspStaple);
    }
  }
  return {
    port: boundPort,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
