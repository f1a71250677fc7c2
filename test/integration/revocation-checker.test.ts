import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import { createCertificateTrust } from '../../src/pki/certificate-trust.js';
import { createOcspRequest, OcspError, verifyOcspResponse } from '../../src/pki/ocsp.js';
import {
  createRevocationChecker,
  type RevocationChecker,
  type RevocationOptions,
} from '../../src/pki/revocation-checker.js';
import { generateOcspPki, type OcspPki } from '../support/ocsp-pki.js';
import {
  findFreePort,
  startOcspResponder,
  type OcspIndexEntry,
  type OcspResponder,
} from '../support/ocsp-responder.js';
import { createTestClock } from '../support/test-clock.js';

const MINUTE = 60_000;

interface Warning {
  readonly object: Record<string, unknown>;
  readonly message: string;
}

const node = (certificate: IssuedCertificate): X509Certificate => new X509Certificate(certificate.certPem);

/**
 * The revocation checker (src/pki/revocation-checker.ts) and the OCSP response verification it relies on, against a
 * real `openssl ocsp` responder. The end-entity certificates carry the AIA URL of `aiaResponder`; other responders
 * are reached through `responderUrl`.
 */
describe('OCSP revocation checker against a real responder', function () {
  this.timeout(60_000);
  let pki: OcspPki;
  /** Listens on the port written into the certificates' AIA; signs with the intermediate (the issuer). */
  let aiaResponder: OcspResponder;
  /** Same index, signed by the delegated responder certificate. */
  let delegated: OcspResponder;
  /** Same index, signed by a key the issuer never certified. */
  let rogue: OcspResponder;
  /** Same index, nextUpdate one minute after thisUpdate. */
  let shortLived: OcspResponder;
  /** A responder that was started and stopped: its port refuses connections. */
  let stoppedUrl: string;
  /** Accepts connections and never answers. */
  let silent: Server;
  const silentSockets = new Set<Socket>();
  let silentUrl: string;
  /** Issued by the intermediate without an AIA extension. */
  let noAia: IssuedCertificate;

  const entries = (): OcspIndexEntry[] => [
    { certificate: pki.good, status: 'good' },
    { certificate: pki.revoked, status: 'revoked' },
    { certificate: pki.authGood, status: 'good' },
    { certificate: pki.server, status: 'good' },
    { certificate: noAia, status: 'good' },
  ];

  const start = (signer: IssuedCertificate, extra: { port?: number; nextUpdateMinutes?: number } = {}) =>
    startOcspResponder({ dir: pki.dir, issuer: pki.intermediate, signer, entries: entries(), ...extra });

  before(async () => {
    const aiaPort = await findFreePort();
    pki = await generateOcspPki({ ocspUrl: `http://127.0.0.1:${aiaPort}` });
    noAia = await issueCertificate({
      subject: 'CN=client without AIA, O=cdoc2-keyserver OCSP tests',
      key: { kind: 'ec', curve: 'P-256' },
      profile: 'client',
      issuer: pki.intermediate,
    });
    aiaResponder = await start(pki.intermediate, { port: aiaPort });
    delegated = await start(pki.ocspSigner);
    rogue = await start(pki.rogueSigner);
    shortLived = await start(pki.intermediate, { nextUpdateMinutes: 1 });
    const stopped = await start(pki.intermediate);
    stoppedUrl = stopped.url;
    await stopped.stop();
    silent = createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    silentUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });

  after(async () => {
    for (const socket of silentSockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await Promise.all([aiaResponder, delegated, rogue, shortLived].map((responder) => responder?.stop()));
    await pki?.cleanup();
  });

  function checker(options: Partial<RevocationOptions> = {}): { checker: RevocationChecker; warnings: Warning[] } {
    const warnings: Warning[] = [];
    return {
      warnings,
      checker: createRevocationChecker({
        mode: 'hard-fail',
        responderUrl: undefined,
        timeoutMs: 10_000,
        maxResponseAgeMs: 60 * MINUTE,
        cacheSize: 100,
        clock: { now: () => new Date() },
        logger: { warn: (object, message) => warnings.push({ object: object as Record<string, unknown>, message }) },
        ...options,
      }),
    };
  }

  const check = (revocation: RevocationChecker, certificate: IssuedCertificate) =>
    revocation.check(node(certificate), node(pki.intermediate));

  describe('verdicts', () => {
    it('allows a certificate the responder reports good', async () => {
      const { checker: revocation } = checker();
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(revocation.stats).to.deep.equal({ cacheHits: 0, cacheMisses: 1, responderFailures: 0, refusals: 0 });
    });

    it('refuses a certificate the responder reports revoked', async () => {
      const { checker: revocation } = checker();
      expect(await check(revocation, pki.revoked)).to.deep.equal({ ok: false, reason: 'the certificate is revoked' });
      expect(revocation.stats.refusals).to.equal(1);
      expect(revocation.stats.responderFailures).to.equal(0);
    });

    it('refuses a certificate the responder reports unknown', async () => {
      const { checker: revocation } = checker();
      expect(await check(revocation, pki.unknown)).to.deep.equal({
        ok: false,
        reason: 'the certificate is unknown to its OCSP responder',
      });
      expect(revocation.stats.refusals).to.equal(1);
    });

    it('still refuses unknown and revoked certificates under soft-fail', async () => {
      const { checker: revocation } = checker({ mode: 'soft-fail' });
      expect((await check(revocation, pki.unknown)).ok).to.equal(false);
      expect((await check(revocation, pki.revoked)).ok).to.equal(false);
      expect(revocation.stats.refusals).to.equal(2);
      expect(revocation.stats.responderFailures).to.equal(0);
    });

    it('allows a certificate whose response is signed by a delegated responder the issuer certified', async () => {
      const { checker: revocation } = checker({ responderUrl: delegated.url });
      const before = delegated.requests();
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(delegated.requests()).to.equal(before + 1);
    });

    it('refuses under hard-fail, and allows under soft-fail, a response signed by a rogue responder', async () => {
      const hard = checker({ responderUrl: rogue.url });
      expect(await check(hard.checker, pki.good)).to.deep.equal({
        ok: false,
        reason: 'revocation status unavailable: the response is not signed by the issuer or a responder it authorised',
      });
      const soft = checker({ responderUrl: rogue.url, mode: 'soft-fail' });
      expect(await check(soft.checker, pki.good)).to.include({ ok: true });
      expect(soft.checker.stats.responderFailures).to.equal(1);
      // Never cached: the next check asks again.
      const before = rogue.requests();
      await check(soft.checker, pki.good);
      expect(rogue.requests()).to.equal(before + 1);
    });
  });

  describe('which responder is asked', () => {
    it('asks the responder of the certificate’s AIA extension when no responderUrl is configured', async () => {
      const { checker: revocation } = checker();
      const [aiaBefore, delegatedBefore] = [aiaResponder.requests(), delegated.requests()];
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(aiaBefore + 1);
      expect(delegated.requests()).to.equal(delegatedBefore);
    });

    it('asks the configured responderUrl instead of the AIA one', async () => {
      const { checker: revocation } = checker({ responderUrl: delegated.url });
      const [aiaBefore, delegatedBefore] = [aiaResponder.requests(), delegated.requests()];
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(delegated.requests()).to.equal(delegatedBefore + 1);
      expect(aiaResponder.requests()).to.equal(aiaBefore);
    });

    it('asks responderUrl even for a certificate without an AIA extension', async () => {
      const { checker: revocation } = checker({ responderUrl: aiaResponder.url });
      const before = aiaResponder.requests();
      expect(await check(revocation, noAia)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(before + 1);
    });

    it('contacts no responder and allows even a revoked certificate when the mode is off', async () => {
      const { checker: revocation, warnings } = checker({ mode: 'off', responderUrl: aiaResponder.url });
      const before = aiaResponder.requests();
      expect(await check(revocation, pki.revoked)).to.include({ ok: true });
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(before);
      expect(revocation.stats).to.deep.equal({ cacheHits: 0, cacheMisses: 0, responderFailures: 0, refusals: 0 });
      expect(warnings).to.deep.equal([]);
    });
  });

  describe('no answer to be had', () => {
    const cases: Array<{ problem: string; url: () => string | undefined; reason: RegExp }> = [
      {
        problem: 'no responder is known',
        url: () => undefined,
        reason: /^revocation status unavailable: the certificate names no OCSP responder$/,
      },
      {
        problem: 'the responder is unreachable',
        url: () => stoppedUrl,
        reason: /^revocation status unavailable: the responder cannot be reached$/,
      },
      {
        problem: 'the responder accepts and never answers',
        url: () => silentUrl,
        reason: /^revocation status unavailable: the responder did not answer in time$/,
      },
    ];

    for (const { problem, url, reason } of cases) {
      it(`refuses under hard-fail when ${problem}`, async () => {
        const { checker: revocation, warnings } = checker({ responderUrl: url(), timeoutMs: 500 });
        const verdict = await check(revocation, noAia);
        expect(verdict.ok).to.equal(false);
        expect(verdict.ok ? '' : verdict.reason).to.match(reason);
        expect(revocation.stats).to.include({ responderFailures: 1, refusals: 1 });
        expect(warnings.map((warning) => warning.message)).to.deep.equal(['revocation status unavailable']);
        expect(warnings[0]?.object['mode']).to.equal('hard-fail');
      });

      it(`allows under soft-fail when ${problem}, and counts a responder failure`, async () => {
        const { checker: revocation, warnings } = checker({
          mode: 'soft-fail',
          responderUrl: url(),
          timeoutMs: 500,
        });
        expect(await check(revocation, noAia)).to.include({ ok: true });
        expect(revocation.stats).to.include({ responderFailures: 1, refusals: 0, cacheHits: 0 });
        expect(String(warnings[0]?.object['reason'])).to.match(
          new RegExp(reason.source.replace('^revocation status unavailable: ', '^')),
        );
        // A soft-fail pass is not remembered as a good answer.
        await check(revocation, noAia);
        expect(revocation.stats).to.include({ responderFailures: 2, cacheHits: 0 });
      });
    }
  });

  describe('cache', () => {
    it('answers a second check of a good certificate from the cache, without asking the responder', async () => {
      const { checker: revocation } = checker();
      await check(revocation, pki.good);
      const before = aiaResponder.requests();
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(before);
      expect(revocation.stats).to.include({ cacheHits: 1, cacheMisses: 1 });
    });

    it('keys the cache by issuer and serial: another good certificate is still asked about', async () => {
      const { checker: revocation } = checker();
      await check(revocation, pki.good);
      const before = aiaResponder.requests();
      expect(await check(revocation, pki.server)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(before + 1);
    });

    it('does not cache a revoked answer: asking again reaches the responder', async () => {
      const { checker: revocation } = checker();
      await check(revocation, pki.revoked);
      const before = aiaResponder.requests();
      expect((await check(revocation, pki.revoked)).ok).to.equal(false);
      expect(aiaResponder.requests()).to.equal(before + 1);
      expect(revocation.stats).to.include({ cacheHits: 0, cacheMisses: 2, refusals: 2 });
    });

    it('uses a good answer until its nextUpdate, then asks again and refuses the stale answer under hard-fail', async () => {
      const clock = createTestClock();
      const { checker: revocation } = checker({ responderUrl: shortLived.url, clock });
      const first = shortLived.requests();
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(shortLived.requests()).to.equal(first + 1);

      clock.advance(30_000); // still before nextUpdate (thisUpdate + one minute)
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(shortLived.requests()).to.equal(first + 1);
      expect(revocation.stats.cacheHits).to.equal(1);

      clock.advance(10 * MINUTE);
      const verdict = await check(revocation, pki.good);
      expect(shortLived.requests()).to.equal(first + 2);
      expect(verdict).to.deep.equal({ ok: false, reason: 'revocation status unavailable: the response is stale' });
    });

    it('uses a good answer without nextUpdate for maxResponseAge, then asks again and refuses it as stale', async () => {
      const clock = createTestClock();
      const { checker: revocation } = checker({ clock, maxResponseAgeMs: 5 * MINUTE });
      const first = aiaResponder.requests();
      await check(revocation, pki.good);
      clock.advance(2 * MINUTE);
      expect(await check(revocation, pki.good)).to.include({ ok: true });
      expect(aiaResponder.requests()).to.equal(first + 1);
      clock.advance(10 * MINUTE);
      const verdict = await check(revocation, pki.good);
      expect(aiaResponder.requests()).to.equal(first + 2);
      expect(verdict).to.deep.equal({ ok: false, reason: 'revocation status unavailable: the response is stale' });
    });

    it('keeps at most cacheSize answers: with one, checking A, B, then A asks about A again', async () => {
      const { checker: revocation } = checker({ cacheSize: 1 });
      const before = aiaResponder.requests();
      for (const certificate of [pki.good, pki.authGood, pki.good]) {
        expect(await check(revocation, certificate)).to.include({ ok: true });
      }
      expect(aiaResponder.requests()).to.equal(before + 3);
      expect(revocation.stats).to.include({ cacheHits: 0, cacheMisses: 3 });
    });

    it('drops the least recently used answer: with two, A, B, A, C, A keeps A', async () => {
      const { checker: revocation } = checker({ cacheSize: 2 });
      const before = aiaResponder.requests();
      for (const certificate of [pki.good, pki.authGood, pki.good, pki.server, pki.good]) {
        expect(await check(revocation, certificate)).to.include({ ok: true });
      }
      // A, B and C are asked about; both later checks of A are hits (B, not A, made room for C).
      expect(aiaResponder.requests()).to.equal(before + 3);
      expect(revocation.stats).to.include({ cacheHits: 2, cacheMisses: 3 });
      await check(revocation, pki.authGood);
      expect(aiaResponder.requests()).to.equal(before + 4);
    });
  });

  describe('single flight and remembered verdicts', () => {
    const anchors = (): X509Certificate[] => [node(pki.root), node(pki.intermediate)];
    const der = (certificate: IssuedCertificate): Buffer => node(certificate).raw;
    const quiet = { warn: () => undefined };

    it('asks the responder once per certificate when 32 first checks of 2 certificates arrive together', async () => {
      const { checker: revocation } = checker();
      const before = aiaResponder.requests();
      const verdicts = await Promise.all(
        Array.from({ length: 32 }, (_, i) => check(revocation, i % 2 === 0 ? pki.good : pki.authGood)),
      );
      expect(verdicts.every((verdict) => verdict.ok)).to.equal(true);
      expect(aiaResponder.requests()).to.equal(before + 2);
      expect(revocation.stats.cacheMisses).to.equal(2);
    });

    it('shares one refusal among concurrent checks of a revoked certificate, then asks again', async () => {
      const { checker: revocation } = checker();
      const before = aiaResponder.requests();
      const verdicts = await Promise.all(Array.from({ length: 8 }, () => check(revocation, pki.revoked)));
      expect(verdicts.every((verdict) => !verdict.ok)).to.equal(true);
      expect(aiaResponder.requests()).to.equal(before + 1);
      await check(revocation, pki.revoked);
      expect(aiaResponder.requests()).to.equal(before + 2);
    });

    it('verifies 32 concurrent first requests of 2 client certificates with 2 responder requests', async () => {
      const trust = createCertificateTrust({
        anchors: anchors(),
        revocation: checker().checker,
        label: 'c',
        logger: quiet,
      });
      const before = aiaResponder.requests();
      await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          trust.assertTrusted(der(i % 2 === 0 ? pki.good : pki.authGood), new Date()),
        ),
      );
      expect(aiaResponder.requests()).to.equal(before + 2);
    });

    it('refuses a remembered certificate as soon as the OCSP answer it relied on lapses and the responder says revoked', async () => {
      const clock = createTestClock();
      const switchable = await start(pki.intermediate, { nextUpdateMinutes: 1 });
      try {
        const trust = createCertificateTrust({
          anchors: anchors(),
          revocation: checker({ responderUrl: switchable.url, clock }).checker,
          label: 'client certificate',
          logger: quiet,
        });
        await trust.assertTrusted(der(pki.good), clock.now());
        await switchable.update([{ certificate: pki.good, status: 'revoked' }]);
        // Within the answer's nextUpdate the remembered verdict stands, without asking.
        clock.advance(30_000);
        await trust.assertTrusted(der(pki.good), clock.now());
        expect(switchable.requests()).to.equal(1);
        // Past it the certificate is verified afresh, and the new answer is heard at once.
        clock.advance(MINUTE);
        let refusal: unknown;
        try {
          await trust.assertTrusted(der(pki.good), clock.now());
        } catch (error) {
          refusal = error;
        }
        expect(switchable.requests()).to.equal(2);
        expect((refusal as Error | undefined)?.message).to.equal(
          'the client certificate is refused: the certificate is revoked',
        );
        // And it stays refused: a refusal is never remembered as a good verdict.
        clock.advance(1000);
        let again: unknown;
        await trust.assertTrusted(der(pki.good), clock.now()).catch((error: unknown) => (again = error));
        expect(again).to.be.instanceOf(Error);
      } finally {
        await switchable.stop();
      }
    });

    it('remembers a verified certificate only until its own notAfter', async () => {
      const clock = createTestClock();
      const trust = createCertificateTrust({
        anchors: anchors(),
        revocation: checker({ mode: 'off', clock }).checker,
        label: 'client certificate',
        logger: quiet,
      });
      await trust.assertTrusted(der(pki.good), clock.now());
      clock.set(new Date(Date.parse(node(pki.good).validTo) + 1000));
      let refusal: unknown;
      await trust.assertTrusted(der(pki.good), clock.now()).catch((error: unknown) => (refusal = error));
      expect((refusal as Error | undefined)?.message).to.equal('the client certificate is expired or not yet valid');
    });
  });

  describe('verifyOcspResponse on real responses', () => {
    const options = () => ({ now: new Date(), skewMs: 5 * MINUTE, maxAgeMs: 60 * MINUTE });

    const fetchResponse = async (certificate: IssuedCertificate): Promise<Buffer> => {
      const response = await fetch(aiaResponder.url, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        body: createOcspRequest(node(certificate), node(pki.intermediate)),
      });
      expect(response.status).to.equal(200);
      return Buffer.from(await response.arrayBuffer());
    };

    it('reads the status of the certificate the response is for', async () => {
      const response = await fetchResponse(pki.good);
      const answer = verifyOcspResponse(response, node(pki.good), node(pki.intermediate), options());
      expect(answer.status).to.equal('good');
      expect(answer.nextUpdate).to.equal(undefined);
    });

    it('refuses a response for another certificate’s serial', async () => {
      const response = await fetchResponse(pki.good);
      expect(() => verifyOcspResponse(response, node(pki.revoked), node(pki.intermediate), options()))
        .to.throw(OcspError)
        .with.property('message')
        .that.matches(/does not answer for this certificate/);
    });

    it('refuses a truncated response', async () => {
      const response = await fetchResponse(pki.good);
      expect(response.length).to.be.greaterThan(100);
      const truncated = response.subarray(0, response.length - 40);
      expect(() => verifyOcspResponse(truncated, node(pki.good), node(pki.intermediate), options()))
        .to.throw(OcspError)
        .with.property('message')
        .that.matches(/does not parse/);
    });

    it('refuses a response verified against an issuer that did not sign it', async () => {
      const response = await fetchResponse(pki.good);
      // The intermediate signed it; the root did not, and never certified the intermediate for OCSP signing.
      expect(() => verifyOcspResponse(response, node(pki.good), node(pki.root), options())).to.throw(
        OcspError,
        /not signed by the issuer/,
      );
    });
  });
});
