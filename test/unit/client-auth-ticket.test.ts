import { expect } from 'chai';
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  AUTH_TICKET_TYP,
  prepareAuthTicket,
  presentationFor,
  shareTicketUrl,
  signedJwt,
} from '../../src/domain/shares/auth-ticket.js';
import { disclose, splitPresentation } from '../../src/domain/shares/sd-jwt.js';
import {
  InvalidRequestError,
  NotAuthorizedError,
  NotFoundError,
  ServerError,
  UnavailableError,
} from '../../src/client/errors.js';
import { parseServerList, type TrustedServer } from '../../src/client/server-list.js';
import { pinnedTls } from '../../src/client/connection.js';
import { grpcError, httpError } from '../../src/client/wire-errors.js';
import { issueCertificate } from '../../src/pki/certificates.js';

const payloadOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

describe('the holder side of the auth ticket (one signature, one disclosure per server)', () => {
  const urls = [
    shareTicketUrl('https://css-1.example', 'a'.repeat(32), 'nonce-one-aaaaaa'),
    shareTicketUrl('https://css-2.example:8443/base/', 'b'.repeat(32), 'nonce-two-bbbbbb'),
    shareTicketUrl('https://css-3.example', 'c'.repeat(32), 'nonce-3_-ccccccc'),
  ];

  it('writes the URL of each share as <base>/key-shares/<id>?nonce=<nonce>, without a doubled slash', () => {
    expect(urls[1]).to.equal(`https://css-2.example:8443/base/key-shares/${'b'.repeat(32)}?nonce=nonce-two-bbbbbb`);
  });

  it('discloses to each server exactly its own URL, and the verifier rules accept every presentation', () => {
    const unsigned = prepareAuthTicket({ iss: 'etsi/PNOEE-38001085718', alg: 'RS256', urls });
    const header = JSON.parse(Buffer.from(unsigned.signingInput.split('.')[0] ?? '', 'base64url').toString('utf8'));
    expect(header).to.deep.equal({ typ: AUTH_TICKET_TYP, alg: 'RS256' });
    const jwt = signedJwt(unsigned, new Uint8Array([1, 2, 3]));
    urls.forEach((url, index) => {
      const presented = splitPresentation(presentationFor(jwt, unsigned, index));
      expect(presented.disclosures).to.have.length(2);
      const disclosed = disclose(payloadOf(presented.jwt), presented.disclosures);
      expect(disclosed).to.deep.equal({ iss: 'etsi/PNOEE-38001085718', aud: [url] });
    });
    expect(() => presentationFor(jwt, unsigned, 3)).to.throw(RangeError);
  });

  it('salts every disclosure afresh: two tickets for the same URLs share no disclosure', () => {
    const one = prepareAuthTicket({ iss: 'etsi/PNOEE-38001085718', alg: 'ES256', urls });
    const two = prepareAuthTicket({ iss: 'etsi/PNOEE-38001085718', alg: 'ES256', urls });
    const all = [one.audDisclosure, ...one.urlDisclosures, two.audDisclosure, ...two.urlDisclosures];
    expect(new Set(all).size).to.equal(all.length);
    expect(payloadOf(`${one.signingInput}.x`)).to.not.have.property('aud');
  });
});

describe('client error mapping (the server error table read backwards)', () => {
  let tls: ReturnType<typeof pinnedTls>;
  let server: TrustedServer;
  before(async () => {
    const certificate = await issueCertificate({
      subject: 'CN=css',
      key: { kind: 'ec', curve: 'P-256' },
      profile: 'server',
    });
    const list = parseServerList({
      servers: [
        {
          id: 'css',
          capsuleType: 'KeySharesCapsule',
          organization: 'org',
          senderUrl: 'https://css.example',
          recipientUrl: 'https://css.example',
          certificates: [certificate.certPem],
        },
      ],
    });
    server = list.servers.get('css') as TrustedServer;
    tls = pinnedTls(list, server);
  });

  const grpc = (code: GrpcStatus): ServiceError =>
    Object.assign(new Error('x'), { code, details: 'detail', metadata: new Metadata() });

  it('maps gRPC statuses to one error kind each', () => {
    expect(grpcError(server, tls, grpc(GrpcStatus.INVALID_ARGUMENT))).to.be.instanceOf(InvalidRequestError);
    expect(grpcError(server, tls, grpc(GrpcStatus.UNAUTHENTICATED))).to.be.instanceOf(NotAuthorizedError);
    expect(grpcError(server, tls, grpc(GrpcStatus.NOT_FOUND))).to.be.instanceOf(NotFoundError);
    expect(grpcError(server, tls, grpc(GrpcStatus.UNAVAILABLE))).to.be.instanceOf(UnavailableError);
    expect(grpcError(server, tls, grpc(GrpcStatus.DEADLINE_EXCEEDED))).to.be.instanceOf(UnavailableError);
    expect(grpcError(server, tls, grpc(GrpcStatus.INTERNAL))).to.be.instanceOf(ServerError);
  });

  it('maps HTTP statuses to the same kinds, with the problem detail when the server sent one', () => {
    const body = Buffer.from(JSON.stringify({ title: 'Unauthorized', detail: 'the ticket is for another server' }));
    const refused = httpError(server, 401, body);
    expect(refused).to.be.instanceOf(NotAuthorizedError);
    expect(refused.message).to.match(/the ticket is for another server/);
    expect(httpError(server, 400, Buffer.alloc(0))).to.be.instanceOf(InvalidRequestError);
    expect(httpError(server, 404, Buffer.alloc(0)).message).to.match(/HTTP 404/);
    expect(httpError(server, 503, Buffer.alloc(0))).to.be.instanceOf(UnavailableError);
    expect(httpError(server, 500, Buffer.alloc(0))).to.be.instanceOf(ServerError);
  });
});
