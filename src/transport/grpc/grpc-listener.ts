import { Server, type ServerCredentials } from '@grpc/grpc-js';
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

export async function startGrpcListener(
  host: string,
  port: number,
  credentials: ServerCredentials,
  services: readonly BoundService[],
): Promise<GrpcListener> {
  const server = new Server(SERVER_OPTIONS);
  for (const service of services) {
    server.addService(service.definition, service.implementation);
  }
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
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
