import { connect, type ConnectionOptions } from 'node:tls';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import type { CapsulePorts } from '../../src/main/app.js';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  https,
  PROBLEM_ACCEPT,
  recipientClient,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';
import { CapsuleType } from '../../gen/cdoc2/capsules/v1/capsules.js';

/** Opens a raw TLS connection and reports the negotiated protocol, or the error that ended the handshake. */
function handshake(options: ConnectionOptions): Promise<{ protocol: string | null } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', servername: 'localhost', ...options }, () => {
      const protocol = socket.getProtocol();
      socket.end();
      resolve({ protocol });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('TLS policy on every listener', () => {
  let server: TestServer;
  let capsuleId: string;

  before(async () => {
    server = await startTestServer();
    const sender = senderClient(server.pki, server.ports.grpcSender);
    const capsule = capsuleFor(server.pki.clients.ecP256);
    const created = await grpcCreateCapsule(sender, {
      capsule: protoCapsule(capsule),
    });
    sender.close();
    capsuleId = created.transactionId;
  });
  after(() => server.close());

  type Listener = keyof CapsulePorts | 'sharesRest' | 'sharesGrpc';
  const listeners: Array<[Listener, string[]]> = [
    ['restSender', ['http/1.1']],
    ['restRecipient', ['http/1.1']],
    ['grpcSender', ['h2']],
    ['grpcRecipient', ['h2']],
    ['sharesRest', ['http/1.1']],
    ['sharesGrpc', ['h2']],
  ];
  const portOf = (listener: Listener): number =>
    listener === 'sharesRest'
      ? server.sharePorts.rest
      : listener === 'sharesGrpc'
        ? server.sharePorts.grpc
        : server.ports[listener];

  for (const [listener, alpn] of listeners) {
    const mutual = listener.endsWith('Recipient');
    const clientAuth = (): Partial<ConnectionOptions> =>
      mutual ? { cert: server.pki.clients.ecP256.certPem, key: server.pki.clients.ecP256.keyPem } : {};

    it(`refuses a TLS 1.2 client on ${listener}`, async () => {
      const result = await handshake({
        port: portOf(listener),
        ca: server.pki.ca.certPem,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ALPNProtocols: alpn,
        ...clientAuth(),
      });
      expect(result)
        .to.have.property('error')
        .that.matches(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/i);
    });

    it(`accepts a TLS 1.3 client on ${listener}`, async () => {
      const result = await handshake({
        port: portOf(listener),
        ca: server.pki.ca.certPem,
        ALPNProtocols: alpn,
        ...clientAuth(),
      });
      expect(result).to.deep.equal({ protocol: 'TLSv1.3' });
    });
  }

  const restGet = (client?: IssuedCertificate) =>
    https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${capsuleId}`,
      headers: PROBLEM_ACCEPT,
      ...(client ? { client } : {}),
    });

  it('answers 401 over REST to a client without a certificate, with a message that says so', async () => {
    const res = await restGet();
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.body).detail).to.equal('a client certificate is required');
  });

  it('answers 401 over REST to a certificate from an untrusted CA, even for a real capsule id', async () => {
    const res = await restGet(server.pki.untrustedClient);
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.body).detail).to.match(/not trusted/);
    expect(res.body).to.not.contain('recipient_id');
  });

  it('answers 401 over REST to an expired certificate from the trusted CA', async () => {
    const res = await restGet(server.pki.expiredClient);
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.body).detail).to.match(/CERT_HAS_EXPIRED/);
  });

  it('answers 401 over REST before validating the request', async () => {
    const res = await https(server.pki, { port: server.ports.restRecipient, method: 'GET', path: '/key-capsules/x' });
    expect(res.status).to.equal(401);
  });

  const grpcGet = async (client?: IssuedCertificate): Promise<ServiceError> => {
    const recipient = recipientClient(server.pki, server.ports.grpcRecipient, client);
    try {
      await grpcGetCapsule(recipient, { transactionId: capsuleId });
    } catch (error) {
      return error as ServiceError;
    } finally {
      recipient.close();
    }
    throw new Error('the call succeeded');
  };

  it('refuses the handshake over gRPC to a client without a certificate', async () => {
    const error = await grpcGet();
    expect(status[error.code]).to.equal('UNAVAILABLE');
  });

  it('refuses the handshake over gRPC to a certificate from an untrusted CA', async () => {
    const error = await grpcGet(server.pki.untrustedClient);
    expect(status[error.code]).to.equal('UNAVAILABLE');
  });

  it('refuses the handshake over gRPC to an expired certificate', async () => {
    const error = await grpcGet(server.pki.expiredClient);
    expect(status[error.code]).to.equal('UNAVAILABLE');
  });

  it('serves the same capsule over gRPC to its trusted recipient (control for the refusals above)', async () => {
    const recipient = recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients.ecP256);
    try {
      const res = await grpcGetCapsule(recipient, { transactionId: capsuleId });
      expect(res.capsule?.capsuleType).to.equal(CapsuleType.CAPSULE_TYPE_ECC_SECP256R1);
    } finally {
      recipient.close();
    }
  });
});
