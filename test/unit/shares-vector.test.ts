import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { createAuthTicketVerifier } from '../../src/auth/auth-ticket-verifier.js';
import { DomainError } from '../../src/domain/errors.js';
import type { BaseUrl } from '../../src/domain/shares/ticket-url.js';
import type { TicketVerifier } from '../../src/domain/shares/ticket-verifier.js';
import { createIssuerTrust } from '../support/issuer-trust.js';
import { splitPemCertificates } from '../../src/pki/pem.js';
import { baseUrl, expectUnauthenticated, loadVector, mutateAt } from './shares-helpers.js';

/**
 * The public Smart-ID demo ticket (RS256, RSA 6144, created by the reference Java client): what a correct verifier
 * accepts, and every one-character change of it that it must refuse.
 */
describe('auth ticket: the public Smart-ID demo vector', () => {
  const vector = loadVector();
  const oneLinePem = vector.certPem.replace(/\r?\n/g, '');
  const issuers = splitPemCertificates(vector.issuerChainPem);
  const verifierFor = (baseUrls: readonly BaseUrl[], trustedPems: readonly string[] = issuers): TicketVerifier =>
    createAuthTicketVerifier({ baseUrls, trust: createIssuerTrust(trustedPems) });
  const verifier = verifierFor([baseUrl('https://localhost:8443')]);
  const present = (
    overrides: { ticket?: string; x5c?: string; shareId?: string } = {},
    using: TicketVerifier = verifier,
  ) =>
    using.verify({
      ticket: overrides.ticket ?? vector.ticket,
      x5c: overrides.x5c ?? oneLinePem,
      shareId: overrides.shareId ?? vector.shareId,
      now: new Date(),
    });

  it('has an issuer bundle of two certificates (the issuing CA and its root)', () => {
    expect(issuers).to.have.length(2);
  });

  it('verifies to the certificate’s person, the requested share and the URL’s nonce', async () => {
    expect(await present()).to.deep.equal({
      recipient: vector.recipient,
      shareId: vector.shareId,
      nonce: vector.nonce,
    });
  });

  it('refuses the ticket with any single character changed, at every position', async function () {
    // About a thousand full verifications: seconds on a quiet machine, far more on a loaded 2-core one.
    this.timeout(300_000);
    const accepted: number[] = [];
    const otherFailures: string[] = [];
    for (let index = 0; index < vector.ticket.length; index++) {
      const mutated = mutateAt(vector.ticket, index);
      expect(mutated).not.to.equal(vector.ticket);
      expect(mutated).to.have.length(vector.ticket.length);
      try {
        await present({ ticket: mutated });
        accepted.push(index);
      } catch (error) {
        if (!(error instanceof DomainError) || error.code !== 'unauthenticated') {
          otherFailures.push(`${index}: ${String(error)}`);
        }
      }
    }
    expect(accepted, 'positions whose change was accepted').to.deep.equal([]);
    expect(otherFailures, 'positions refused with something other than unauthenticated').to.deep.equal([]);
  });

  it('accepts the certificate as base64url DER', async () => {
    const der = new X509Certificate(vector.certPem).raw.toString('base64url');
    expect((await present({ x5c: der })).recipient).to.equal(vector.recipient);
  });

  it('accepts the certificate as ordinary multi-line PEM', async () => {
    expect(vector.certPem).to.include('\n');
    expect((await present({ x5c: vector.certPem })).recipient).to.equal(vector.recipient);
  });

  it('refuses the certificate with one character of its PEM body changed', async () => {
    const bodyStart = oneLinePem.indexOf('-----', 5) + 5;
    const bodyEnd = oneLinePem.lastIndexOf('-----END');
    // Spread over the body (header, public key, extensions, signature), away from the final padding characters.
    for (const fraction of [0.1, 0.25, 0.4, 0.55, 0.7, 0.9]) {
      const index = bodyStart + Math.floor((bodyEnd - bodyStart) * fraction);
      await expectUnauthenticated(present({ x5c: mutateAt(oneLinePem, index) }));
    }
  });

  it('refuses the ticket for another share id', async () => {
    await expectUnauthenticated(present({ shareId: 'ff0102030405060708090a0b0c0e0d00' }), /another key share/);
  });

  it('refuses the ticket at a server whose base URL is another port', async () => {
    await expectUnauthenticated(present({}, verifierFor([baseUrl('https://localhost:8444')])), /another server/);
  });

  it('accepts a configured base URL written with an upper-case host and a trailing slash', async () => {
    const result = await present({}, verifierFor([baseUrl('https://LOCALHOST:8443/')]));
    expect(result.nonce).to.equal(vector.nonce);
  });

  it('refuses the ticket when only the root, not the issuing CA, is trusted', async () => {
    const roots = issuers.filter((pem) => {
      const certificate = new X509Certificate(pem);
      return certificate.subject === certificate.issuer;
    });
    expect(roots).to.have.length(1);
    await expectUnauthenticated(present({}, verifierFor([baseUrl('https://localhost:8443')], roots)), /trusted issuer/);
  });
});
