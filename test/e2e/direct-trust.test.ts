import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import { capsuleFor, capsuleJson } from '../support/capsule-fixtures.js';
import { restCreateCapsule } from '../support/rest-round-trip.js';
import {
  grpcGetCapsule,
  https,
  PROBLEM_ACCEPT,
  recipientClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';
import { getTestPki } from '../support/test-pki.js';

const EC = { kind: 'ec', curve: 'P-256' } as const;
const SUBJECT = 'CN=cdoc2-client, OU=Unknown, O=Listed test client, C=EE';

/**
 * A self-signed client certificate as Java's keytool makes them (the official server's test clients): no basic
 * constraints, no key usage, a subjectAltName.
 */
async function keytoolLike(subject: string): Promise<IssuedCertificate> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }])],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificate,
    certPem: certificate.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    keys,
    signingAlgorithm: algorithm,
  };
}

/**
 * Direct trust: a self-signed client certificate listed in `capsules.clientCa` is trusted when the client presents
 * exactly that certificate, on both transports, as the official capsule server trusts the clients of its
 * truststore. A certificate under the same name with another key, and one signed by the listed certificate's key,
 * are refused.
 */
describe('direct trust of a listed self-signed client certificate (REST and gRPC)', () => {
  let server: TestServer;
  let listed: IssuedCertificate;
  let listedKeytool: IssuedCertificate;
  let impostor: IssuedCertificate;
  let issuedByListed: IssuedCertificate;
  const ids = new Map<IssuedCertificate, string>();
  const capsules = new Map<IssuedCertificate, string>();

  /** Stores a capsule for the holder of `client`'s key. */
  const store = async (client: IssuedCertificate): Promise<void> => {
    const capsule = capsuleFor(client);
    const body = capsuleJson(capsule);
    const created = await restCreateCapsule(server.pki, server.ports.restSender, capsule);
    expect(created.status).to.equal(201);
    ids.set(client, String(created.headers['location']).slice('/key-capsules/'.length));
    capsules.set(client, body);
  };

  before(async () => {
    listed = await issueCertificate({ subject: SUBJECT, key: EC, profile: 'client' });
    listedKeytool = await keytoolLike('CN=keytool client, O=Listed test client, C=EE');
    impostor = await issueCertificate({ subject: SUBJECT, key: EC, profile: 'client' });
    issuedByListed = await issueCertificate({
      subject: 'CN=issued by a listed leaf, O=Listed test client, C=EE',
      key: EC,
      profile: 'client',
      issuer: listed,
    });
    const folder = mkdtempSync(join(tmpdir(), 'cdoc2-direct-trust-'));
    writeFileSync(join(folder, 'listed.pem'), listed.certPem + listedKeytool.certPem);
    const pki = await getTestPki();
    server = await startTestServer({ capsules: { clientCa: [pki.caFile, join(folder, 'listed.pem')] } });
    for (const holder of [listed, listedKeytool, impostor, issuedByListed, pki.clients.ecP256]) {
      await store(holder);
    }
  });
  after(() => server.close());

  const restGet = (client: IssuedCertificate) =>
    https(server.pki, {
      port: server.ports.restRecipient,
      method: 'GET',
      path: `/key-capsules/${ids.get(client) ?? ''}`,
      headers: PROBLEM_ACCEPT,
      client,
    });

  const grpcGet = async (client: IssuedCertificate) => {
    const recipient = recipientClient(server.pki, server.ports.grpcRecipient, client);
    try {
      return await grpcGetCapsule(recipient, { transactionId: ids.get(client) ?? '' });
    } finally {
      recipient.close();
    }
  };

  const grpcRefusal = (client: IssuedCertificate): Promise<ServiceError> =>
    grpcGet(client).then(
      () => expect.fail('the call succeeded'),
      (error: ServiceError) => error,
    );

  for (const [name, holder] of [
    ['the listed certificate', () => listed],
    ['a listed keytool-style certificate (no basic constraints, no key usage)', () => listedKeytool],
  ] as const) {
    it(`serves ${name}'s capsule over REST and gRPC`, async () => {
      const client = holder();
      const res = await restGet(client);
      expect(res.status, res.body).to.equal(200);
      expect(res.body).to.equal(capsules.get(client));
      const viaGrpc = await grpcGet(client);
      expect(Buffer.from(viaGrpc.capsule?.recipientId ?? []).toString('base64')).to.equal(
        (JSON.parse(res.body) as { recipient_id: string }).recipient_id,
      );
    });
  }

  it('refuses a same-subject impostor (another key under the listed name): REST 401, gRPC handshake', async () => {
    expect(impostor.certificate.subject).to.equal(listed.certificate.subject);
    const res = await restGet(impostor);
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.body).detail).to.match(/not trusted|not issued by a trusted issuer/);
    expect(status[(await grpcRefusal(impostor)).code]).to.equal('UNAVAILABLE');
  });

  it('refuses a certificate signed by the listed certificate: a listed leaf never issues', async () => {
    const res = await restGet(issuedByListed);
    expect(res.status).to.equal(401);
    expect(status[(await grpcRefusal(issuedByListed)).code]).to.equal('UNAVAILABLE');
  });

  it('still serves certificates of the listed CA (control)', async () => {
    const client = server.pki.clients.ecP256;
    expect((await restGet(client)).status).to.equal(200);
    expect((await grpcGet(client)).capsule).to.not.equal(undefined);
  });
});
