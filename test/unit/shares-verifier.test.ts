import 'reflect-metadata';
import { expect } from 'chai';
import { createAuthTicketVerifier } from '../../src/auth/auth-ticket-verifier.js';
import type { TicketVerifier } from '../../src/domain/shares/ticket-verifier.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { createIssuerTrust } from '../support/issuer-trust.js';
import {
  base64urlDer,
  createAuthTicket,
  makeDisclosure,
  oneLinePem,
  serialNumberOf,
  signJws,
  type TicketOptions,
} from '../support/auth-ticket-builder.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';
import {
  baseUrl,
  decodeJson,
  encodeJson,
  expectUnauthenticated,
  issueAuthCertificate,
  refusedAuthCertificates,
  mutateAt,
} from './shares-helpers.js';

const SHARE_ID = '0123456789abcdef0123456789abcdef';
const NONCE = 'AAECAwQFBgcICQoL';
const urlFor = (shareId = SHARE_ID, nonce = NONCE, base = 'https://css.test'): string =>
  `${base}/key-shares/${shareId}?nonce=${nonce}`;

describe('auth ticket verifier (test PKI)', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let verifier: TicketVerifier;
  let dualUsage: IssuedCertificate;
  let twoSerialNumbers: IssuedCertificate;
  let ecP521: IssuedCertificate;

  before(async () => {
    pki = await getTestPki();
    ({ dualUsage, twoSerialNumbers } = await refusedAuthCertificates(pki.authCa));
    ecP521 = await issueAuthCertificate(pki.authCa, {
      serialNumbers: ['IDCLV-123456'],
      key: { kind: 'ec', curve: 'P-521' },
    });
    verifier = createAuthTicketVerifier({
      baseUrls: [baseUrl('https://css.test')],
      trust: createIssuerTrust([pki.authCa.certPem]),
    });
  });

  /** The presentation for this server of a ticket with one URL, unless the options say otherwise. */
  const ticketOf = (signer: IssuedCertificate, options: Partial<TicketOptions> = {}): string =>
    createAuthTicket({ signer, urls: [urlFor()], ...options }).presentationFor(0);

  const verify = (
    ticket: string,
    x5c: string,
    options: { shareId?: string; now?: Date; using?: TicketVerifier } = {},
  ) =>
    (options.using ?? verifier).verify({
      ticket,
      x5c,
      shareId: options.shareId ?? SHARE_ID,
      now: options.now ?? new Date(),
    });

  describe('accepts', () => {
    const cases: Array<[string, (pki: TestPki) => IssuedCertificate, string | undefined]> = [
      ['RS256 with an RSA 2048 key', (p) => p.auth.rsa2048, undefined],
      ['RS256 with an RSA 4096 key', (p) => p.auth.rsa4096, 'RS256'],
      ['ES256 with a P-256 key', (p) => p.auth.ecP256, undefined],
      ['ES384 with a P-384 key', (p) => p.auth.ecP384, 'ES384'],
      ['PS256 with an RSA 2048 key', (p) => p.auth.rsa2048, 'PS256'],
      ['RS512 with an RSA 2048 key', (p) => p.auth.rsa2048, 'RS512'],
      ['PS384 with an RSA 4096 key', (p) => p.auth.rsa4096, 'PS384'],
    ];
    for (const [what, signerOf, alg] of cases) {
      it(`${what}, naming the certificate's person, the share and the nonce`, async () => {
        const signer = signerOf(pki);
        const ticket = ticketOf(signer, alg ? { alg } : {});
        expect(await verify(ticket, oneLinePem(signer))).to.deep.equal({
          recipient: `etsi/${serialNumberOf(signer)}`,
          shareId: SHARE_ID,
          nonce: NONCE,
        });
      });
    }

    it('ES512 with a P-521 key', async () => {
      const ticket = ticketOf(ecP521);
      expect(decodeJson(ticket.split('.')[0] ?? '')).to.have.property('alg', 'ES512');
      expect((await verify(ticket, base64urlDer(ecP521))).recipient).to.equal('etsi/IDCLV-123456');
    });

    it('the default ticket for rsa2048 is RS256 (so the case above tests RS256)', () => {
      const [header] = ticketOf(pki.auth.rsa2048).split('.');
      expect(decodeJson(header ?? '')).to.deep.equal({ typ: 'vnd.cdoc2.auth-token.v1+sd-jwt', alg: 'RS256' });
    });

    it('the certificate as base64url DER', async () => {
      const signer = pki.auth.ecP256;
      expect((await verify(ticketOf(signer), base64urlDer(signer))).recipient).to.equal('etsi/PNOEE-30303039914');
    });

    it('the certificate as multi-line PEM', async () => {
      const signer = pki.auth.ecP384;
      expect(signer.certPem).to.include('\n');
      expect((await verify(ticketOf(signer), signer.certPem)).recipient).to.equal('etsi/PNOEE-39912319997');
    });

    it('the presentation for the second server of a two-server ticket, at that server', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = createAuthTicket({
        signer,
        urls: [urlFor(SHARE_ID, 'b3RoZXJzZXJ2ZXI', 'https://other.test'), urlFor()],
      });
      expect((await verify(ticket.presentationFor(1), oneLinePem(signer))).nonce).to.equal(NONCE);
    });

    it('a URL with an explicit :443 and an upper-case host', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { urls: [urlFor(SHARE_ID, NONCE, 'https://CSS.test:443')] });
      expect((await verify(ticket, oneLinePem(signer))).shareId).to.equal(SHARE_ID);
    });
  });

  describe('refuses, naming the reason', () => {
    it('alg none with an empty signature', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = ticketOf(signer, { alg: 'none' });
      expect(ticket.split('~')[0]).to.match(/\.$/);
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /alg none/);
    });

    it('HS256 keyed with the certificate PEM (algorithm confusion)', async () => {
      const signer = pki.auth.rsa2048;
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'HS256' }), oneLinePem(signer)), /alg HS256/);
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'HS256' }), signer.certPem), /alg HS256/);
    });

    it('an ES256 header on an RSA key', async () => {
      const signer = pki.auth.rsa2048;
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'ES256' }), oneLinePem(signer)), /alg ES256/);
    });

    it('an RS256 header on an EC key', async () => {
      const signer = pki.auth.ecP256;
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'RS256' }), oneLinePem(signer)), /alg RS256/);
    });

    it('an ES384 header on a P-256 key', async () => {
      const signer = pki.auth.ecP256;
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'ES384' }), oneLinePem(signer)), /alg ES384/);
    });

    it('an ES256 header on a P-384 key', async () => {
      const signer = pki.auth.ecP384;
      await expectUnauthenticated(verify(ticketOf(signer, { alg: 'ES256' }), oneLinePem(signer)), /alg ES256/);
    });

    it('a header without alg', async () => {
      const signer = pki.auth.ecP256;
      const signingInput = `${encodeJson({ typ: 'vnd.cdoc2.auth-token.v1+sd-jwt' })}.${encodeJson({ iss: 'x' })}`;
      const ticket = `${signingInput}.${signJws(signer, 'ES256', signingInput)}~`;
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /alg undefined/);
    });

    it('an RS256 header over a PS256 signature', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = ticketOf(signer);
      const [header, payload] = ticket.split('.');
      const signingInput = `${header}.${payload}`;
      const forged = `${signingInput}.${signJws(signer, 'PS256', signingInput)}~${ticket.split('~').slice(1).join('~')}`;
      await expectUnauthenticated(verify(forged, oneLinePem(signer)), /signature/);
    });

    for (const typ of ['JWT', 'vnd.cdoc2.auth-token.v1+sd-jwt ', 'VND.CDOC2.AUTH-TOKEN.V1+SD-JWT', 'sd-jwt']) {
      it(`typ ${JSON.stringify(typ)}`, async () => {
        const signer = pki.auth.ecP256;
        await expectUnauthenticated(verify(ticketOf(signer, { typ }), oneLinePem(signer)), /typ/);
      });
    }

    it('a header without typ', async () => {
      const signer = pki.auth.ecP256;
      const ticket = createAuthTicket({ signer, urls: [urlFor()] });
      const signingInput = `${encodeJson({ alg: 'ES256' })}.${ticket.jwt.split('.')[1] ?? ''}`;
      const jwt = `${signingInput}.${signJws(signer, 'ES256', signingInput)}`;
      const presentation = `${jwt}~${ticket.audDisclosure}~${ticket.urlDisclosures[0] ?? ''}~`;
      await expectUnauthenticated(verify(presentation, oneLinePem(signer)), /typ/);
    });

    it('a payload re-encoded with another iss, keeping the signature', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = createAuthTicket({ signer, urls: [urlFor()] });
      const [header, payload, signature] = ticket.jwt.split('.');
      const claims = decodeJson(payload ?? '') as Record<string, unknown>;
      expect(claims['iss']).to.equal('etsi/PNOEE-38001085718');
      const tampered = `${header}.${encodeJson({ ...claims, iss: 'etsi/PNOEE-48010010101' })}.${signature}`;
      const presentation = `${tampered}~${ticket.audDisclosure}~${ticket.urlDisclosures[0] ?? ''}~`;
      await expectUnauthenticated(verify(presentation, oneLinePem(pki.auth.rsa4096)), /signature/);
      await expectUnauthenticated(verify(presentation, oneLinePem(signer)), /signature/);
    });

    it('a ticket signed by another person’s key than the certificate’s', async () => {
      const ticket = ticketOf(pki.auth.rsa2048, { iss: `etsi/${serialNumberOf(pki.auth.rsa4096)}` });
      await expectUnauthenticated(verify(ticket, oneLinePem(pki.auth.rsa4096)), /signature/);
    });

    it('a signature with one character changed', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer);
      const signatureStart = ticket.lastIndexOf('.', ticket.indexOf('~')) + 1;
      await expectUnauthenticated(verify(mutateAt(ticket, signatureStart + 10), oneLinePem(signer)), /signature/);
    });

    it('an element disclosure whose URL was changed (its digest is no longer referenced)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = createAuthTicket({ signer, urls: [urlFor()] });
      const [salt] = decodeJson(ticket.urlDisclosures[0] ?? '') as [string, string];
      const tampered = makeDisclosure([salt, urlFor(SHARE_ID, 'b3RoZXJub25jZQ')]);
      const presentation = `${ticket.jwt}~${ticket.audDisclosure}~${tampered}~`;
      await expectUnauthenticated(verify(presentation, oneLinePem(signer)), /not referenced/);
    });

    it('an extra unreferenced disclosure appended', async () => {
      const signer = pki.auth.ecP256;
      const extra = makeDisclosure(['c2FsdHNhbHRzYWx0', urlFor(SHARE_ID, 'ZXh0cmFub25jZQ')]);
      await expectUnauthenticated(verify(`${ticketOf(signer)}${extra}~`, oneLinePem(signer)), /not referenced/);
    });

    it('two aud URLs disclosed (both element disclosures presented)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = createAuthTicket({ signer, urls: [urlFor(), urlFor(SHARE_ID, 'c2Vjb25kbm9uY2U')] });
      const both = `${ticket.jwt}~${ticket.audDisclosure}~${ticket.urlDisclosures.join('~')}~`;
      await expectUnauthenticated(verify(both, oneLinePem(signer)), /exactly one aud/);
    });

    it('no aud URL disclosed (only the aud disclosure presented)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = createAuthTicket({ signer, urls: [urlFor()] });
      await expectUnauthenticated(
        verify(`${ticket.jwt}~${ticket.audDisclosure}~`, oneLinePem(signer)),
        /exactly one aud/,
      );
    });

    it('no disclosures at all', async () => {
      const signer = pki.auth.ecP256;
      const ticket = createAuthTicket({ signer, urls: [urlFor()] });
      await expectUnauthenticated(verify(`${ticket.jwt}~`, oneLinePem(signer)), /exactly one aud/);
    });

    it('an aud naming another server’s base URL', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { urls: [urlFor(SHARE_ID, NONCE, 'https://other.test')] });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /another server/);
    });

    it('an aud naming this host on another port', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { urls: [urlFor(SHARE_ID, NONCE, 'https://css.test:8443')] });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /another server/);
    });

    it('the presentation meant for another server, at this server', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = createAuthTicket({ signer, urls: [urlFor(), urlFor(SHARE_ID, NONCE, 'https://other.test')] });
      await expectUnauthenticated(verify(ticket.presentationFor(1), oneLinePem(signer)), /another server/);
    });

    it('an aud URL without a nonce', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { urls: [`https://css.test/key-shares/${SHARE_ID}`] });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /nonce/);
    });

    it('a ticket for another share id', async () => {
      const signer = pki.auth.ecP256;
      await expectUnauthenticated(
        verify(ticketOf(signer), oneLinePem(signer), { shareId: 'fedcba9876543210fedcba9876543210' }),
        /another key share/,
      );
    });

    it('an iss that does not match the certificate', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = ticketOf(signer, { iss: 'etsi/PNOEE-99999999999' });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /iss/);
    });

    it('an iss without the etsi/ prefix', async () => {
      const signer = pki.auth.rsa2048;
      const ticket = ticketOf(signer, { iss: serialNumberOf(signer) });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /iss/);
    });

    it('an iss that is not a string', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { extraClaims: { iss: ['etsi/PNOEE-30303039914'] } });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /no iss/);
    });

    it('a certificate from an untrusted issuer', async () => {
      const signer = pki.authUntrusted;
      await expectUnauthenticated(verify(ticketOf(signer), oneLinePem(signer)), /trusted issuer/);
    });

    it('an expired certificate', async () => {
      const signer = pki.authExpired;
      await expectUnauthenticated(verify(ticketOf(signer), oneLinePem(signer)), /expired/);
    });

    it('a certificate that is valid today, at a time after its validity', async () => {
      const signer = pki.auth.ecP256;
      const later = new Date(signer.certificate.notAfter.getTime() + 1000);
      await expectUnauthenticated(verify(ticketOf(signer), oneLinePem(signer), { now: later }), /expired/);
    });

    it('a signing certificate (key usage nonRepudiation only): it lacks digitalSignature', async () => {
      const signer = pki.authSigning;
      await expectUnauthenticated(verify(ticketOf(signer), oneLinePem(signer)), /digitalSignature/);
    });

    it('a certificate whose key usage has nonRepudiation besides digitalSignature', async () => {
      const signer = dualUsage;
      await expectUnauthenticated(verify(ticketOf(signer), oneLinePem(signer)), /nonRepudiation/);
    });

    it('a certificate whose subject has two serialNumbers', async () => {
      const signer = twoSerialNumbers;
      const ticket = ticketOf(signer, { iss: 'etsi/PNOEE-30303039914' });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /serialNumber/);
    });

    it('a TLS client certificate without a subject serialNumber', async () => {
      const signer = pki.clients.ecP256;
      await expectUnauthenticated(verify(ticketOf(signer, { iss: 'etsi/x' }), oneLinePem(signer)), /serialNumber/);
    });

    it('a CA certificate (no digitalSignature key usage)', async () => {
      const signer = pki.authCa;
      await expectUnauthenticated(verify(ticketOf(signer, { iss: 'etsi/x' }), oneLinePem(signer)), /digitalSignature/);
    });

    it('a plain aud claim in the payload', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { extraClaims: { aud: [urlFor()] } });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /aud must be selectively disclosed/);
    });

    it('a plain aud claim naming this server even when the disclosed one names another', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, {
        urls: [urlFor(SHARE_ID, NONCE, 'https://other.test')],
        extraClaims: { aud: urlFor() },
      });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /aud/);
    });

    it('a plain aud hidden in a payload member named __proto__', async () => {
      const signer = pki.auth.ecP256;
      const hidden = JSON.parse(`{"__proto__": {"aud": ["${urlFor()}"]}}`) as Record<string, unknown>;
      expect(Object.hasOwn(hidden, '__proto__')).to.equal(true);
      const ticket = createAuthTicket({ signer, urls: [urlFor()], extraClaims: hidden });
      await expectUnauthenticated(verify(`${ticket.jwt}~`, oneLinePem(signer)), /aud/);
    });

    it('an _sd_alg other than sha-256', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { extraClaims: { _sd_alg: 'sha-512' } });
      await expectUnauthenticated(verify(ticket, oneLinePem(signer)), /digest algorithm/);
    });

    const garbageTickets: Array<[string, string, RegExp]> = [
      ['an empty ticket', '', /SD-JWT presentation/],
      ['a ticket of spaces', '   ', /SD-JWT presentation/],
      ['a ticket without ~', 'garbage', /SD-JWT presentation/],
      ['a ticket whose JWT is not a JWS', 'garbage~', /not a JWS/],
      ['a ticket whose JWT header is not JSON', 'bm90anNvbg.e30.c2ln~', /not a JWS/],
      ['a ticket with a bad disclosure part', 'e30.e30.c2ln~not base64url~', /malformed/],
      ['a ticket whose JWT segment is not canonical base64url', 'e30.e30.c2l~', /not a JWS/],
    ];
    for (const [what, ticket, reason] of garbageTickets) {
      it(what, async () => {
        await expectUnauthenticated(verify(ticket, oneLinePem(pki.auth.ecP256)), reason);
      });
    }

    const garbageCertificates: Array<[string, (pki: TestPki) => string, RegExp]> = [
      ['an empty x5c', () => '', /neither PEM nor base64url/],
      ['an x5c of spaces', () => '   ', /neither PEM nor base64url/],
      ['an x5c with characters outside base64url', () => 'not a certificate!', /neither PEM nor base64url/],
      ['an x5c in standard base64 (with + or /)', () => '+/+/', /neither PEM nor base64url/],
      ['an x5c that is base64url but no certificate', () => 'Z2FyYmFnZQ', /does not parse/],
      [
        'a PEM whose body is no certificate',
        () => '-----BEGIN CERTIFICATE-----Z2FyYmFnZQ==-----END CERTIFICATE-----',
        /does not parse/,
      ],
      ['a truncated certificate', (p) => base64urlDer(p.auth.ecP256).slice(0, 200), /does not parse/],
      ['a private key instead of a certificate', (p) => p.auth.ecP256.keyPem, /neither PEM nor base64url/],
      [
        'two certificates in one x5c',
        (p) => `${oneLinePem(p.auth.ecP256)}${oneLinePem(p.authCa)}`,
        /does not parse|neither PEM nor base64url/,
      ],
    ];
    for (const [what, x5cOf, reason] of garbageCertificates) {
      it(what, async () => {
        await expectUnauthenticated(verify(ticketOf(pki.auth.ecP256), x5cOf(pki)), reason);
      });
    }
  });

  describe('checks in the order README "What the shares server verifies" gives', () => {
    it('reports an untrusted certificate before a bad signature (step 2 before step 3)', async () => {
      const signer = pki.authUntrusted;
      const ticket = ticketOf(signer);
      const signatureStart = ticket.lastIndexOf('.', ticket.indexOf('~')) + 1;
      const badSignature = mutateAt(ticket, signatureStart + 10);
      await expectUnauthenticated(verify(badSignature, oneLinePem(signer)), /trusted issuer/);
      // The same damage with a trusted certificate is reported as the signature.
      const trustedTicket = ticketOf(pki.auth.rsa2048);
      const trustedStart = trustedTicket.lastIndexOf('.', trustedTicket.indexOf('~')) + 1;
      await expectUnauthenticated(
        verify(mutateAt(trustedTicket, trustedStart + 10), oneLinePem(pki.auth.rsa2048)),
        /signature/,
      );
    });

    it('reports a certificate that is not an authentication one before its issuer (step 1 before step 2)', async () => {
      // pki.clients.ecP256 is issued by the TLS CA, which this verifier does not trust either.
      const signer = pki.clients.ecP256;
      await expectUnauthenticated(verify(ticketOf(signer, { iss: 'etsi/x' }), oneLinePem(signer)), /serialNumber/);
    });

    it('reports an expired certificate before a ticket that is garbage (step 2 before step 3)', async () => {
      await expectUnauthenticated(verify('garbage', oneLinePem(pki.authExpired)), /expired/);
    });

    it('reports a bad signature before a wrong typ (step 3 before step 4)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { typ: 'JWT' });
      const signatureStart = ticket.lastIndexOf('.', ticket.indexOf('~')) + 1;
      await expectUnauthenticated(verify(mutateAt(ticket, signatureStart + 10), oneLinePem(signer)), /signature/);
    });

    it('reports a wrong iss before a stray disclosure (step 4 before step 5)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { iss: 'etsi/PNOEE-99999999999' });
      const extra = makeDisclosure(['c2FsdA', 'x']);
      await expectUnauthenticated(verify(`${ticket}${extra}~`, oneLinePem(signer)), /iss/);
    });

    it('reports another server before another share (step 6 before step 7)', async () => {
      const signer = pki.auth.ecP256;
      const ticket = ticketOf(signer, { urls: [urlFor(SHARE_ID, NONCE, 'https://other.test')] });
      await expectUnauthenticated(
        verify(ticket, oneLinePem(signer), { shareId: 'fedcba9876543210fedcba9876543210' }),
        /another server/,
      );
    });
  });
});
