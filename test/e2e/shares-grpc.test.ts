// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { KeyShareRecipientServiceClient, KeyShareSenderServiceClient } from '../../gen/cdoc2/shares/v1/shares.js';
import { AUTH_KEYS, type AuthName } from '../support/test-pki.js';
import { base64urlDer, createAuthTicket, oneLinePem } from '../support/auth-ticket-builder.js';
import {
  grpcCreateNonce,
  grpcCreateShare,
  grpcGetShare,
  shareRecipientClient,
  shareSenderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';
import {
  expectGrpcStatus,
  GRPC_STATUS,
  grpcDriver,
  issueShare,
  MAX_LIVE_NONCES,
  recipientOf,
  REFUSAL_CASES,
  restDriver,
  secretsOf,
  ticketUrl,
  unknownShareId,
  type IssuedShare,
  type ShareDriver,
} from './shares-helpers.js';

const ALG: Readonly<Record<AuthName, string>> = {
  rsa2048: 'RS256',
  rsa4096: 'RS256',
  ecP256: 'ES256',
  ecP384: 'ES384',
};
const DAY = 86_400_000;

const expectNoLeak = (error: ServiceError, secrets: readonly string[]): void => {
  for (const secret of secrets) {
    expect(error.details, `the answer contains ${secret}`).to.not.include(secret);
    expect(error.message).to.not.include(secret);
  }
};

describe('shares server (CSS) over gRPC (real TLS 1.3, MariaDB)', () => {
  let server: TestServer;
  let sender: KeyShareSenderServiceClient;
  let recipient: KeyShareRecipientServiceClient;
  let driver: ShareDriver;

  before(async () => {
    server = await startTestServer();
    sender = shareSenderClient(server.pki, server.sharePorts.grpc);
    recipient = shareRecipientClient(server.pki, server.sharePorts.grpc);
    driver = grpcDriver(sender, recipient);
  });
  after(async () => {
    sender.close();
    recipient.close();
    await server.close();
  });

  const issueFor = (name: AuthName = 'rsa2048'): Promise<IssuedShare> =>
    issueShare(driver, recipientOf(server.pki.auth[name]));

  const ticketFor = (issued: IssuedShare, name: AuthName = 'rsa2048', url = issued.url): string =>
    createAuthTicket({ signer: server.pki.auth[name], urls: [url] }).presentationFor(0);

  const get = (shareId: string, authTicket: string, authX5c = oneLinePem(server.pki.auth.rsa2048)) =>
    grpcGetShare(recipient, { shareId, authTicket, authX5c });

  const expectShare = async (response: ReturnType<typeof get>, issued: IssuedShare): Promise<void> => {
    const { keyShare } = await response;
    expect(keyShare).to.deep.equal({ share: issued.share, recipient: issued.recipient });
  };

  /** NOT_FOUND for a share that does not exist, asked for with an otherwise valid ticket. */
  const unknownShareError = async (): Promise<ServiceError> => {
    const shareId = unknownShareId();
    const ticket = createAuthTicket({
      signer: server.pki.auth.rsa2048,
      urls: [ticketUrl(shareId, randomBytes(12).toString('base64url'))],
    });
    return expectGrpcStatus(get(shareId, ticket.presentationFor(0)), status.NOT_FOUND);
  };

  describe('storing, nonces and fetching', () => {
    for (const name of Object.keys(AUTH_KEYS) as AuthName[]) {
      for (const [encoding, x5cOf] of [
        ['one-line PEM', oneLinePem],
        ['base64url DER', base64urlDer],
      ] as const) {
        it(`returns the share for an ${ALG[name]} ticket of the ${name} certificate sent as ${encoding}`, async () => {
          const issued = await issueFor(name);
          await expectShare(get(issued.shareId, ticketFor(issued, name), x5cOf(server.pki.auth[name])), issued);
        });
      }
    }

    it('answers CreateKeyShare with a 32-hex share id and the default expiry, not adjusted', async () => {
      const created = await grpcCreateShare(sender, {
        keyShare: { share: randomBytes(32), recipient: 'etsi/PNOEE-48010010101' },
      });
      expect(created.shareId).to.match(/^[0-9a-f]{32}$/);
      expect(created.expiryTimeAdjusted).to.equal(false);
      expect(created.expiryTime?.getTime()).to.be.greaterThan(server.clock.now().getTime() + DAY);
    });

    it('answers CreateNonce with fresh 16-character base64url nonces', async () => {
      const issued = await issueFor();
      const second = await grpcCreateNonce(recipient, issued.shareId);
      expect(issued.nonce).to.match(/^[A-Za-z0-9_-]{16}$/);
      expect(second).to.match(/^[A-Za-z0-9_-]{16}$/);
      expect(second).to.not.equal(issued.nonce);
    });

    it('serves over gRPC a share stored over REST, for a nonce issued over REST', async () => {
      const issued = await issueShare(restDriver(server), recipientOf(server.pki.auth.ecP384));
      await expectShare(get(issued.shareId, ticketFor(issued, 'ecP384'), oneLinePem(server.pki.auth.ecP384)), issued);
    });

    it('consumes the nonce: the same ticket a second time is NOT_FOUND, identical to an unknown share', async () => {
      const issued = await issueFor();
      const ticket = ticketFor(issued);
      await expectShare(get(issued.shareId, ticket), issued);
      const again = await expectGrpcStatus(get(issued.shareId, ticket), status.NOT_FOUND);
      expect(again.details).to.equal((await unknownShareError()).details);
      expectNoLeak(again, secretsOf(issued));
    });

    it('keeps several nonces of one share live: the 2nd of three works, then the 1st and 3rd still do', async () => {
      const issued = await issueFor();
      const nonces = [issued.nonce, await driver.nonce(issued.shareId), await driver.nonce(issued.shareId)];
      expect(new Set(nonces).size).to.equal(3);
      for (const nonce of [nonces[1], nonces[0], nonces[2]]) {
        await expectShare(
          get(issued.shareId, ticketFor(issued, 'rsa2048', ticketUrl(issued.shareId, nonce ?? ''))),
          issued,
        );
      }
    });

    it(`refuses the ${MAX_LIVE_NONCES + 1}th live nonce with RESOURCE_EXHAUSTED, and issues again once one is used`, async () => {
      const issued = await issueFor();
      for (let i = 1; i < MAX_LIVE_NONCES; i++) {
        await grpcCreateNonce(recipient, issued.shareId);
      }
      const refused = await expectGrpcStatus(grpcCreateNonce(recipient, issued.shareId), status.RESOURCE_EXHAUSTED);
      expect(refused.details).to.match(new RegExp(`${MAX_LIVE_NONCES} unused nonces`));
      expectNoLeak(refused, secretsOf(issued));
      await expectShare(get(issued.shareId, ticketFor(issued)), issued);
      expect(await grpcCreateNonce(recipient, issued.shareId)).to.match(/^[A-Za-z0-9_-]{16}$/);
      await expectGrpcStatus(grpcCreateNonce(recipient, issued.shareId), status.RESOURCE_EXHAUSTED);
    });

    it('answers NOT_FOUND to CreateNonce for an unknown share, INVALID_ARGUMENT to a share id of bad length', async () => {
      const unknown = await expectGrpcStatus(grpcCreateNonce(recipient, unknownShareId()), status.NOT_FOUND);
      expect(unknown.details).to.equal('key share not found');
      await expectGrpcStatus(grpcCreateNonce(recipient, 'f'.repeat(17)), status.INVALID_ARGUMENT);
      await expectGrpcStatus(grpcCreateNonce(recipient, ''), status.INVALID_ARGUMENT);
    });

    it('answers INVALID_ARGUMENT to CreateKeyShare without a key share, with 31 bytes, or a bad recipient', async () => {
      await expectGrpcStatus(grpcCreateShare(sender, {}), status.INVALID_ARGUMENT);
      const short = await expectGrpcStatus(
        grpcCreateShare(sender, { keyShare: { share: randomBytes(31), recipient: 'etsi/PNOEE-48010010101' } }),
        status.INVALID_ARGUMENT,
      );
      expect(short.details).to.match(/32 to 128 bytes/);
      await expectGrpcStatus(
        grpcCreateShare(sender, { keyShare: { share: randomBytes(32), recipient: 'PNOEE-48010010101' } }),
        status.INVALID_ARGUMENT,
      );
    });
  });

  describe('races and expiry', () => {
    it('serves a ticket presented five times at once exactly once; the others are NOT_FOUND', async () => {
      const issued = await issueFor();
      const ticket = ticketFor(issued);
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => get(issued.shareId, ticket)));
      const served = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const refused = outcomes.flatMap((outcome) =>
        outcome.status === 'rejected' ? [(outcome.reason as ServiceError).code] : [],
      );
      expect(served).to.have.length(1);
      expect(refused).to.deep.equal([status.NOT_FOUND, status.NOT_FOUND, status.NOT_FOUND, status.NOT_FOUND]);
    });

    it('answers NOT_FOUND to GetKeyShare and CreateNonce once the share has expired', async () => {
      const signer = server.pki.auth.rsa2048;
      const share = randomBytes(32);
      const created = await grpcCreateShare(sender, {
        keyShare: { share, recipient: recipientOf(signer) },
        requestedExpiryTime: new Date(server.clock.now().getTime() + DAY),
      });
      expect(created.expiryTimeAdjusted).to.equal(false);
      server.clock.advance(DAY - 60_000);
      try {
        const ticketWith = async () =>
          createAuthTicket({
            signer,
            urls: [ticketUrl(created.shareId, await grpcCreateNonce(recipient, created.shareId))],
          }).presentationFor(0);
        const [lastMinute, tooLate] = [await ticketWith(), await ticketWith()];
        expect((await get(created.shareId, lastMinute)).keyShare?.share).to.deep.equal(share);
        server.clock.advance(60_000);
        const expired = await expectGrpcStatus(get(created.shareId, tooLate), status.NOT_FOUND);
        expect(expired.details).to.equal('key share not found');
        await expectGrpcStatus(grpcCreateNonce(recipient, created.shareId), status.NOT_FOUND);
      } finally {
        server.clock.advance(-DAY);
      }
    });
  });

  describe('refusals', () => {
    for (const refusal of REFUSAL_CASES) {
      const expected = GRPC_STATUS[refusal.refusal];
      it(`refuses ${refusal.name} with ${status[expected]}`, async () => {
        const attempt = await refusal.prepare({ server, driver });
        let error: ServiceError;
        try {
          error = await expectGrpcStatus(get(attempt.shareId, attempt.ticket, attempt.x5c), expected);
        } finally {
          attempt.restore?.();
        }
        expect(error.details).to.match(refusal.detail);
        expectNoLeak(error, attempt.secrets);
        if (expected === status.NOT_FOUND) {
          expect(error.details).to.equal((await unknownShareError()).details);
        }
      });
    }

    it('answers identical NOT_FOUNDs for an unknown share, a used nonce and a share of someone else', async () => {
      const used = await issueFor();
      const ticket = ticketFor(used);
      await expectShare(get(used.shareId, ticket), used);
      const replayed = await expectGrpcStatus(get(used.shareId, ticket), status.NOT_FOUND);
      const othersShare = await issueFor('rsa4096');
      const notYours = await expectGrpcStatus(
        get(othersShare.shareId, ticketFor(othersShare, 'rsa2048')),
        status.NOT_FOUND,
      );
      const unknown = await unknownShareError();
      for (const error of [replayed, notYours]) {
        expect({ code: error.code, details: error.details, message: error.message }).to.deep.equal({
          code: unknown.code,
          details: unknown.details,
          message: unknown.message,
        });
      }
      expect(unknown.details).to.equal('key share not found');
    });
  });
});
