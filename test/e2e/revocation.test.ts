import { logSink } from '../support/log-sink.js';
import { connect, type ConnectionOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { verifyOcspResponse } from '../../src/pki/ocsp.js';
import { capsuleFor, capsuleJson } from '../support/capsule-fixtures.js';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../support/auth-ticket-builder.js';
import { generateOcspPki, type OcspPki } from '../support/ocsp-pki.js';
import { startOcspResponder } from '../support/ocsp-responder.js';
import {
  grpcGetCapsule,
  https,
  PROBLEM_ACCEPT,
  recipientClient,
  startTestServer,
  TEST_SHARES_BASE_URL,
  type TestServer,
} from '../support/test-server.js';
import type { TestPki } from '../support/test-pki.js';

type Responder = Awaited<ReturnType<typeof startOcspResponder>>;
type Mode = 'soft-fail' | 'hard-fail';

/**
 * Revocation (OCSP, RFC 6960) against a real responder: `openssl ocsp` on 127.0.0.1 with an index.txt database,
 * started and stopped by the tests. The server is configured with `revocation.responderUrl` pointing at it.
 */
describe('certificate revocation with a real OCSP responder', function () {
  this.timeout(60_000);
  let ocsp: OcspPki;

  before(async () => {
    ocsp = await generateOcspPki();
  });
  after(() => ocsp.cleanup());

  const startResponder = (signer: IssuedCertificate = ocsp.intermediate, nextUpdateMinutes?: number) =>
    startOcspResponder({
      issuer: ocsp.intermediate,
      signer,
      entries: [
        { certificate: ocsp.good, status: 'good' },
        { certificate: ocsp.revoked, status: 'revoked' },
        { certificate: ocsp.authGood, status: 'good' },
        { certificate: ocsp.authRevoked, status: 'revoked' },
        { certificate: ocsp.server, status: 'good' },
      ],
      ...(nextUpdateMinutes !== undefined ? { nextUpdateMinutes } : {}),
    });

  /** JSON log lines of the servers started by startServer. */
  const logLines: string[] = [];
  const logDestination = logSink((line) => logLines.push(line));

  const startServer = (responder: Responder | { url: string }, mode: Mode, clientCa = ocsp.caBundleFile) =>
    startTestServer(
      {
        tls: { cert: ocsp.serverChainFile, key: ocsp.files.server.key },
        capsules: { clientCa: [clientCa] },
        shares: { trustedIssuers: [ocsp.caBundleFile] },
        revocation: { mode, responderUrl: responder.url, timeout: 'PT2S' },
        log: { level: 'warn' },
      },
      { logDestination },
    );

  /** The TLS client's view: trusts the OCSP PKI's root (the server certificate comes from it). */
  const asPki = (server: TestServer): TestPki => ({ ...server.pki, ca: ocsp.root });

  const storeCapsuleFor = async (server: TestServer, client: IssuedCertificate): Promise<string> => {
    const res = await https(asPki(server), {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { 'content-type': 'application/json' },
      body: capsuleJson(capsuleFor(client)),
    });
    expect(res.status, res.body).to.equal(201);
    return String(res.headers['location']).slice('/key-capsules/'.length);
  };

  const restGet = (server: TestServer, id: string, client: IssuedCertificate) =>
    https(asPki(server), {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${id}`,
      headers: PROBLEM_ACCEPT,
      client,
    });

  const grpcGet = async (server: TestServer, id: string, client: IssuedCertificate): Promise<ServiceError | 'ok'> => {
    const recipient = recipientClient(asPki(server), server.ports.grpcRecipient, client);
    try {
      await grpcGetCapsule(recipient, { transactionId: id });
      return 'ok';
    } catch (error) {
      return error as ServiceError;
    } finally {
      recipient.close();
    }
  };

  describe('hard-fail with the responder up', () => {
    let responder: Responder;
    let server: TestServer;
    before(async () => {
      responder = await startResponder();
      server = await startServer(responder, 'hard-fail');
    });
    after(async () => {
      await server.close();
      await responder.stop();
    });

    it('serves a capsule to a good certificate over REST and gRPC', async () => {
      const id = await storeCapsuleFor(server, ocsp.good);
      expect((await restGet(server, id, ocsp.good)).status).to.equal(200);
      expect(await grpcGet(server, id, ocsp.good)).to.equal('ok');
    });

    it('refuses a revoked certificate with 401 / UNAUTHENTICATED and serves nothing', async () => {
      const id = await storeCapsuleFor(server, ocsp.revoked);
      const res = await restGet(server, id, ocsp.revoked);
      expect(res.status).to.equal(401);
      expect(JSON.parse(res.body).detail).to.match(/revoked/);
      expect(res.body).to.not.contain('recipient_id');
      const error = await grpcGet(server, id, ocsp.revoked);
      expect(error).to.not.equal('ok');
      expect(status[(error as ServiceError).code]).to.equal('UNAUTHENTICATED');
      expect((error as ServiceError).details).to.match(/revoked/);
    });

    it('logs each refusal with its reason, serial and issuer, and no personal name', async () => {
      const id = await storeCapsuleFor(server, ocsp.authRevoked);
      logLines.length = 0;
      expect((await restGet(server, id, ocsp.authRevoked)).status).to.equal(401);
      const refusals = logLines
        .map((line) => JSON.parse(line) as { msg: string; reason?: string; serial?: string })
        .filter((entry) => entry.msg === 'certificate refused');
      expect(refusals).to.have.length(1);
      expect(refusals[0]?.reason).to.match(/revoked/);
      expect(refusals[0]?.serial).to.equal(new X509Certificate(ocsp.authRevoked.certPem).serialNumber);
      // The subject of this certificate names a person (serialNumber PNOEE-…, CN TESTNUMBER,OK): none of it is logged.
      const logged = logLines.join('\n');
      expect(logged).to.not.contain('TESTNUMBER');
      expect(logged).to.not.contain('PNOEE');
    });

    it('refuses a certificate the responder does not know', async () => {
      const id = await storeCapsuleFor(server, ocsp.unknown);
      const res = await restGet(server, id, ocsp.unknown);
      expect(res.status).to.equal(401);
      expect(JSON.parse(res.body).detail).to.match(/unknown/);
    });

    it('uses a remembered good answer without asking the responder again, on both transports', async () => {
      const id = await storeCapsuleFor(server, ocsp.good);
      await restGet(server, id, ocsp.good);
      const before = responder.requests();
      const missesBefore = server.app.revocationStats.cacheMisses;
      expect((await restGet(server, id, ocsp.good)).status).to.equal(200);
      expect(await grpcGet(server, id, ocsp.good)).to.equal('ok');
      expect(responder.requests()).to.equal(before);
      // The verified certificate itself is remembered (src/pki/certificate-trust.ts): no OCSP lookup at all.
      expect(server.app.revocationStats.cacheMisses).to.equal(missesBefore);
    });

    it('accepts a good ticket signer and refuses a revoked one on the shares server', async () => {
      for (const [signer, expected] of [
        [ocsp.authGood, 200],
        [ocsp.authRevoked, 401],
      ] as const) {
        const pki = asPki(server);
        const created = await https(pki, {
          port: server.sharePorts.rest,
          method: 'POST',
          path: '/key-shares',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            share: Buffer.alloc(32, 1).toString('base64'),
            recipient: `etsi/${serialNumberOf(signer)}`,
          }),
        });
        const id = String(created.headers['location']).slice('/key-shares/'.length);
        const nonce = await https(pki, {
          port: server.sharePorts.rest,
          method: 'POST',
          path: `/key-shares/${id}/nonce`,
        });
        const ticket = createAuthTicket({
          signer,
          urls: [`${TEST_SHARES_BASE_URL}/key-shares/${id}?nonce=${JSON.parse(nonce.body).nonce}`],
        }).presentationFor(0);
        const res = await https(pki, {
          port: server.sharePorts.rest,
          method: 'GET',
          path: `/key-shares/${id}`,
          headers: { ...PROBLEM_ACCEPT, 'x-cdoc2-auth-ticket': ticket, 'x-cdoc2-auth-x5c': oneLinePem(signer) },
        });
        expect(res.status, res.body).to.equal(expected);
        if (expected === 401) {
          expect(JSON.parse(res.body).detail).to.match(/revoked/);
        }
      }
    });

    it('staples a good OCSP response for its own certificate on every listener', async () => {
      const ports = [
        server.ports.restSender,
        server.ports.restRecipient,
        server.ports.grpcSender,
        server.ports.grpcRecipient,
        server.sharePorts.rest,
        server.sharePorts.grpc,
      ];
      for (const port of ports) {
        const response = await stapledResponse(port, ocsp);
        const answer = verifyOcspResponse(
          response,
          new X509Certificate(ocsp.server.certPem),
          new X509Certificate(ocsp.intermediate.certPem),
          { now: new Date(), skewMs: 300_000, maxAgeMs: 3_600_000 },
        );
        expect(answer.status, `port ${port}`).to.equal('good');
      }
    });
  });

  describe('an intermediate CA presented by the client', () => {
    let responder: Responder;
    let server: TestServer;
    before(async () => {
      responder = await startResponder();
      // Only the root is configured: the client's intermediate comes in its TLS certificate chain.
      server = await startServer(responder, 'hard-fail', ocsp.files.root.cert);
    });
    after(async () => {
      await server.close();
      await responder.stop();
    });

    it('builds the chain through the presented intermediate and serves the capsule over REST', async () => {
      const id = await storeCapsuleFor(server, ocsp.good);
      const withChain = { ...ocsp.good, certPem: ocsp.good.certPem + ocsp.intermediate.certPem };
      const res = await restGet(server, id, withChain);
      expect(res.status, res.body).to.equal(200);
    });
  });

  describe('a responder that is down', () => {
    let responder: Responder;
    before(async () => {
      responder = await startResponder();
      await responder.stop();
    });

    it('allows a certificate under soft-fail and counts the responder failure', async () => {
      const server = await startServer(responder, 'soft-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.good);
        expect((await restGet(server, id, ocsp.good)).status).to.equal(200);
        expect(server.app.revocationStats.responderFailures).to.be.greaterThan(0);
      } finally {
        await server.close();
      }
    });

    it('refuses the same certificate under hard-fail', async () => {
      const server = await startServer(responder, 'hard-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.good);
        const res = await restGet(server, id, ocsp.good);
        expect(res.status).to.equal(401);
        expect(JSON.parse(res.body).detail).to.match(/revocation status unavailable/);
      } finally {
        await server.close();
      }
    });

    it('still refuses a revoked certificate under soft-fail when the responder answers', async () => {
      const live = await startResponder();
      const server = await startServer(live, 'soft-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.revoked);
        expect((await restGet(server, id, ocsp.revoked)).status).to.equal(401);
      } finally {
        await server.close();
        await live.stop();
      }
    });
  });

  describe('responses that cannot be trusted', () => {
    it('refuses under hard-fail when the response is signed by a key the issuer did not authorise', async () => {
      const rogue = await startResponder(ocsp.rogueSigner);
      const server = await startServer(rogue, 'hard-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.good);
        const res = await restGet(server, id, ocsp.good);
        expect(res.status).to.equal(401);
        expect(JSON.parse(res.body).detail).to.match(/not signed by the issuer/);
      } finally {
        await server.close();
        await rogue.stop();
      }
    });

    it('accepts a response signed by a delegated responder the issuer certified', async () => {
      const delegated = await startResponder(ocsp.ocspSigner);
      const server = await startServer(delegated, 'hard-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.good);
        expect((await restGet(server, id, ocsp.good)).status).to.equal(200);
      } finally {
        await server.close();
        await delegated.stop();
      }
    });

    it('refuses a stale response (past its nextUpdate) under hard-fail', async () => {
      const responder = await startResponder(ocsp.intermediate, 1);
      const server = await startServer(responder, 'hard-fail');
      try {
        const id = await storeCapsuleFor(server, ocsp.good);
        // Ten minutes on: the responder's answers (nextUpdate one minute after now) are past even the skew.
        server.clock.advance(10 * 60_000);
        const res = await restGet(server, id, ocsp.good);
        expect(res.status).to.equal(401);
        expect(JSON.parse(res.body).detail).to.match(/stale/);
      } finally {
        await server.close();
        await responder.stop();
      }
    });
  });
});

/** Connects with status_request and returns the stapled OCSP response; retries while the stapler warms up. */
async function stapledResponse(port: number, ocsp: OcspPki): Promise<Buffer> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await new Promise<Buffer | undefined>((resolve, reject) => {
      let stapled: Buffer | undefined;
      // requestOCSP is a TLSSocket option that tls.connect passes on; @types/node does not list it there.
      const options: ConnectionOptions & { requestOCSP: boolean } = {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: ocsp.root.certPem,
        requestOCSP: true,
        ALPNProtocols: ['h2', 'http/1.1'],
      };
      const socket = connect(options, () => {
        socket.end();
        resolve(stapled);
      });
      socket.on('OCSPResponse', (der: Buffer) => {
        stapled = der.length > 0 ? der : undefined;
      });
      socket.on('error', reject);
    });
    if (response) {
      return response;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no OCSP response stapled on port ${port}`);
}
