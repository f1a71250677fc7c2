import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { expect } from 'chai';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { peerIdentityOf, socketPeerIdentity } from '../../src/transport/tls/peer-identity.js';
import { recipientKeyFromCertificate } from '../../src/transport/tls/recipient-key-from-certificate.js';
import { subjectForLog } from '../../src/transport/tls/subject-for-log.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

/** The peer identity cache on real TLS 1.3 connections: what is derived from a certificate, and how often. */
describe('peer identity of a TLS client', function () {
  // The first suite of a run generates the test PKI (RSA 4096 keys): slow on a busy machine.
  this.timeout(120_000);
  let pki: TestPki;
  let server: Server;
  const accepted: TLSSocket[] = [];

  before(async () => {
    pki = await getTestPki();
    server = createServer({
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    });
    server.on('secureConnection', (socket: TLSSocket) => accepted.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(() => {
    accepted.forEach((socket) => socket.destroy());
    server?.close();
  });

  /** Connects (optionally with a client certificate) and resolves with the server's side of the connection. */
  async function serverSideOf(client?: IssuedCertificate): Promise<TLSSocket> {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const before = accepted.length;
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: pki.ca.certPem,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write('x'); // TLS 1.3: the server completes the handshake once the client's certificate has arrived
    while (accepted.length === before) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return accepted[accepted.length - 1] as TLSSocket;
  }

  it('reads the certificate from a connection once, whatever the number of requests on it', async () => {
    const socket = await serverSideOf(pki.clients.ecP384);
    let reads = 0;
    const read = socket.getPeerCertificate.bind(socket);
    socket.getPeerCertificate = ((detailed: boolean) => {
      reads++;
      return read(detailed);
    }) as TLSSocket['getPeerCertificate'];
    const first = socketPeerIdentity(socket);
    const second = socketPeerIdentity(socket);
    expect(reads).to.equal(1);
    expect(second).to.equal(first);
  });

  it('derives the recipient key and the log subject the per-request functions derive', async () => {
    const client = pki.clients.rsa2048;
    const identity = socketPeerIdentity(await serverSideOf(client));
    const der = new X509Certificate(client.certPem).raw;
    expect(identity?.der.equals(der)).to.equal(true);
    expect(identity?.recipientKey).to.deep.equal(recipientKeyFromCertificate(der));
    expect(identity?.logSubject).to.equal(subjectForLog(der));
    expect(identity?.logSubject).to.equal('O=cdoc2-keyserver tests');
  });

  it('answers undefined, and keeps answering it, for a connection without a client certificate', async () => {
    const socket = await serverSideOf();
    expect(socketPeerIdentity(socket)).to.equal(undefined);
    expect(socketPeerIdentity(socket)).to.equal(undefined);
  });

  it('gives two connections with one certificate the same derived key, each with its own chain', async () => {
    const [one, two] = [await serverSideOf(pki.clients.ecP256), await serverSideOf(pki.clients.ecP256)];
    const [a, b] = [socketPeerIdentity(one), socketPeerIdentity(two)];
    expect(a).to.not.equal(b);
    expect(a?.recipientKey).to.equal(b?.recipientKey);
  });

  it('keys the identity by fingerprint: another certificate gets its own', () => {
    const p256 = new X509Certificate(pki.clients.ecP256.certPem);
    const p521 = new X509Certificate(pki.clients.ecP521.certPem);
    const a = peerIdentityOf(p256);
    expect(peerIdentityOf(p256)).to.equal(a);
    const b = peerIdentityOf(p521);
    expect(b.recipientKey).to.deep.equal(recipientKeyFromCertificate(p521.raw));
    expect(b.recipientKey).to.not.deep.equal(a.recipientKey);
  });
});
