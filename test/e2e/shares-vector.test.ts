// test-pki.ts (loaded by test-server.ts) loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import {
  grpcGetShare,
  shareRecipientClient,
  startTestServer,
  type HttpResponse,
  type TestServer,
} from '../support/test-server.js';
import { expectGrpcStatus } from '../support/grpc-assertions.js';
import { restGet, ticketHeaders } from '../support/share-drivers.js';
import { changeCharacter, NONCE_TTL_MS } from './shares-helpers.js';

/**
 * The public Smart-ID demo ticket (README "Tests"), made by the reference Java client against
 * the real Smart-ID demo service, verified end to end: a server configured with the base URL and issuers the
 * ticket was made for, a share row and a nonce row put straight into its database (the nonce is the one the
 * ticket names, so it cannot come from CreateNonce).
 */
const VECTOR_DIR = resolve(__dirname, '../fixtures/smartid-demo-ticket');
const read = (name: string): string => readFileSync(join(VECTOR_DIR, name), 'utf8');

const VECTOR = {
  ticket: read('ticket.txt').trim(),
  certPem: read('signer-cert.pem'),
  issuerChainFile: join(VECTOR_DIR, 'issuer-chain.pem'),
  baseUrl: 'https://localhost:8443',
  shareId: 'ff0102030405060708090a0b0c0e0dff',
  nonce: 'AAECAwQFBgcICQoLDA4N_w',
  recipient: 'etsi/PNOEE-30303039914',
};

const ONE_LINE_PEM = VECTOR.certPem.replace(/\r?\n/g, '');
const DER_BASE64URL = new X509Certificate(VECTOR.certPem).raw.toString('base64url');

describe('shares server (CSS) end to end with the public Smart-ID demo ticket', () => {
  let server: TestServer;
  const share = randomBytes(32);

  before(async () => {
    server = await startTestServer({
      shares: { baseUrls: [VECTOR.baseUrl], trustedIssuers: [VECTOR.issuerChainFile] },
    });
    const now = server.clock.now().getTime();
    await server.app.database('key_shares').insert({
      share_id: VECTOR.shareId,
      share,
      recipient: VECTOR.recipient,
      expires_at: now + 30 * 86_400_000,
      expiry_adjusted: false,
      created_at: now,
    });
  });
  after(() => server.close());

  /** The nonce the ticket names, issued "moments ago" as server.clock sees it. */
  const insertNonce = async (): Promise<void> => {
    const now = server.clock.now().getTime();
    await server.app.database('key_share_nonces').insert({
      share_id: VECTOR.shareId,
      nonce: VECTOR.nonce,
      created_at: now,
      expires_at: now + NONCE_TTL_MS,
    });
  };

  const liveNonces = async (): Promise<number> => {
    const row = (await server.app
      .database('key_share_nonces')
      .where({ share_id: VECTOR.shareId })
      .count({ n: '*' })
      .first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  };

  const get = (ticket: string, x5c = ONE_LINE_PEM): Promise<HttpResponse> =>
    restGet(server, VECTOR.shareId, ticketHeaders(ticket, x5c));

  const expectShare = (res: HttpResponse): void => {
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({ share: share.toString('base64'), recipient: VECTOR.recipient });
  };

  it('returns the share for the vector ticket and its certificate as one-line PEM, then 404 (nonce consumed)', async () => {
    await insertNonce();
    expectShare(await get(VECTOR.ticket));
    expect(await liveNonces()).to.equal(0);
    const again = await get(VECTOR.ticket);
    expect(again.status).to.equal(404);
    expect(JSON.parse(again.body).detail).to.equal('key share not found');
  });

  it('accepts the vector certificate as base64url DER too', async () => {
    await insertNonce();
    expectShare(await get(VECTOR.ticket, DER_BASE64URL));
  });

  it('refuses the ticket with one character changed in any of its parts, and keeps the nonce for the real one', async () => {
    await insertNonce();
    const parts = VECTOR.ticket.split('~');
    const [header = '', payload = '', signature = ''] = (parts[0] ?? '').split('.');
    const start = {
      header: 0,
      payload: header.length + 1,
      signature: header.length + payload.length + 2,
      audDisclosure: (parts[0] ?? '').length + 1,
      urlDisclosure: (parts[0] ?? '').length + (parts[1] ?? '').length + 2,
    };
    const positions: Record<string, number> = {
      'first header character': start.header,
      'middle of the header': start.header + Math.floor(header.length / 2),
      'first payload character': start.payload,
      'middle of the payload (iss)': start.payload + Math.floor(payload.length / 2),
      'first signature character': start.signature,
      'middle of the signature': start.signature + Math.floor(signature.length / 2),
      'first character of the aud disclosure': start.audDisclosure,
      'middle of the aud disclosure': start.audDisclosure + Math.floor((parts[1] ?? '').length / 2),
      'first character of the URL disclosure': start.urlDisclosure,
      'last character of the URL disclosure (in the nonce)': start.urlDisclosure + (parts[2] ?? '').length - 1,
      'the final ~': VECTOR.ticket.length - 1,
    };
    for (const [where, index] of Object.entries(positions)) {
      const res = await get(changeCharacter(VECTOR.ticket, index));
      expect(res.status, `${where} (${index}): ${res.body}`).to.equal(401);
    }
    expect(await liveNonces()).to.equal(1);
    expectShare(await get(VECTOR.ticket));
  });

  it('refuses the ticket with its signature re-spelt: standard-base64 characters, padding, a space', async () => {
    const [jwt = '', ...rest] = VECTOR.ticket.split('~');
    const underscore = jwt.lastIndexOf('_');
    const hyphen = jwt.lastIndexOf('-');
    expect(underscore).to.be.greaterThan(jwt.lastIndexOf('.'));
    expect(hyphen).to.be.greaterThan(jwt.lastIndexOf('.'));
    const variants = {
      "'_' as '/'": `${jwt.slice(0, underscore)}/${jwt.slice(underscore + 1)}`,
      "'-' as '+'": `${jwt.slice(0, hyphen)}+${jwt.slice(hyphen + 1)}`,
      "'=' appended": `${jwt}=`,
      'a space inserted': `${jwt.slice(0, -10)} ${jwt.slice(-10)}`,
    };
    await insertNonce();
    for (const [how, variant] of Object.entries(variants)) {
      const res = await get([variant, ...rest].join('~'));
      expect(res.status, `signature with ${how}: ${res.body}`).to.equal(401);
    }
    expect(await liveNonces()).to.equal(1);
    expectShare(await get(VECTOR.ticket));
  });

  it('returns the share over gRPC GetKeyShare, once', async () => {
    await insertNonce();
    const client = shareRecipientClient(server.pki, server.sharePorts.grpc);
    try {
      const request = { shareId: VECTOR.shareId, authTicket: VECTOR.ticket, authX5c: ONE_LINE_PEM };
      const { keyShare } = await grpcGetShare(client, request);
      expect(keyShare).to.deep.equal({ share, recipient: VECTOR.recipient });
      await expectGrpcStatus(grpcGetShare(client, request), status.NOT_FOUND);
      await insertNonce();
      const tampered = { ...request, authTicket: changeCharacter(VECTOR.ticket, 40) };
      await expectGrpcStatus(grpcGetShare(client, tampered), status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  it('refuses the vector ticket once its nonce has outlived the nonce lifetime', async () => {
    await server.app.database('key_share_nonces').where({ share_id: VECTOR.shareId }).delete();
    await insertNonce();
    server.clock.advance(NONCE_TTL_MS);
    try {
      expect((await get(VECTOR.ticket)).status).to.equal(404);
    } finally {
      server.clock.advance(-NONCE_TTL_MS);
    }
  });
});
