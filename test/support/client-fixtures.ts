import { createServer, type Server, type TLSSocket } from 'node:tls';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { parseServerList, type ServerList, type ServerListInput } from '../../src/client/index.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import type { TestPki } from './test-pki.js';

type Entry = ServerListInput['servers'][number];

/** A server list that trusts the test CA and pins, by default, the test server's certificate. */
export function testServerList(
  pki: TestPki,
  servers: ReadonlyArray<Omit<Entry, 'certificates'> & { certificates?: string[] }>,
): ServerList {
  return parseServerList({
    ca: [pki.ca.certPem],
    servers: servers.map((entry) => ({ certificates: [pki.server.certPem], ...entry })),
  });
}

/** Another valid certificate for localhost from the test CA: chain validation alone would accept it. */
export const otherLocalhostCertificate = (pki: TestPki): Promise<IssuedCertificate> =>
  issueCertificate({
    subject: 'CN=localhost, O=somebody in the middle',
    key: { kind: 'ec', curve: 'P-256' },
    profile: 'server',
    issuer: pki.ca,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });

export interface TlsRecorder {
  readonly port: number;
  /** Handshakes that began (the client reached the server). */
  connections(): number;
  /** Application bytes received after a handshake, on any connection. */
  bytesReceived(): number;
  close(): Promise<void>;
}

/**
 * A TLS 1.3 server that answers nothing and counts what it receives: it stands for a server (or an interception
 * proxy) holding a valid certificate that the server list does not pin.
 */
export async function startTlsRecorder(identity: IssuedCertificate): Promise<TlsRecorder> {
  let connections = 0;
  let bytes = 0;
  const sockets = new Set<TLSSocket>();
  const server: Server = createServer(
    { cert: identity.certPem, key: identity.keyPem, minVersion: 'TLSv1.3', ALPNProtocols: ['h2', 'http/1.1'] },
    (socket) => {
      sockets.add(socket);
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    },
  );
  server.on('connection', () => (connections += 1));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    bytesReceived: () => bytes,
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

/**
 * Free loopback ports, found by binding port 0 and closing: a shares server's base URL names its port, which must
 * therefore be known before the server starts. All are held at once so that they are distinct.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<NetServer>((resolve) => {
          const server = createNetServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
