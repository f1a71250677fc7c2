import { Server, type ServerCredentials } from '@grpc/grpc-js';
import type { EventEmitter } from 'node:events';
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
const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 64 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
};

/**
 * grpc-js does not expose its HTTP/2 servers, and OCSP stapling needs their 'OCSPRequest' event: this reads its
 * private `http2Servers` map, and fails loudly (the start fails) rather than silently not stapling if a grpc-js
 * upgrade renames it. The version is pinned by the lock file and the stapling test covers every listener.
 */
function http2ServersOf(server: Server): EventEmitter[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    throw new Error('OCSP stapling: this grpc-js version does not keep its HTTP/2 servers where expected');
  }
  return [...(servers as Map<EventEmitter, unknown>).keys()];
}

export interface GrpcListenerOptions {
  /** The OCSP response to staple on every handshake, if any. */
  readonly ocspStaple?: OcspStapleSource | undefined;
  /** Serve grpc.health.v1.Health following this source. */
  readonly health?: HealthSource | undefined;
  /** Serve gRPC server reflection. */
  readonly reflection?: ReflectionInstaller | undefined;
}

export async function startGrpcListener(
  host: string,
  port: number,
  credentials: ServerCredentials,
  services: readonly BoundService[],
  { ocspStaple, health, reflection }: GrpcListenerOptions = {},
): Promise<GrpcListener> {
  const server = new Server(SERVER_OPTIONS);
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
  if (ocspStaple) {
    for (const http2Server of http2ServersOf(server)) {
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
