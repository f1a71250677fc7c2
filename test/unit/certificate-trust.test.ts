import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { KeyUsageFlags } from '@peculiar/x509';
import { expect } from 'chai';
import type { CertificateTrust } from '../../src/domain/certificate-trust.js';
import { DomainError } from '../../src/domain/errors.js';
import { createCertificateTrust } from '../../src/pki/certificate-trust.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import {
  createRevocationChecker,
  type RevocationChecker,
  type RevocationVerdict,
} from '../../src/pki/revocation-checker.js';

const DAY = 86_400_000;
const EC = { kind: 'ec', curve: 'P-256' } as const;
const ORG = 'O=cdoc2 trust tests, C=EE';
/** A personal name and code that must never reach a log line. */
const PERSON_CN = 'Mari-Liis Männik';
const PERSON_CODE = 'PNOEE-48907230000';
const PERSON = `CN=${PERSON_CN}, 2.5.4.5=${PERSON_CODE}, C=EE`;
const LABEL = 'client certificate';

interface Warning {
  readonly object: Record<string, unknown>;
  readonly message: string;
}

const der = (certificate: IssuedCertificate): Uint8Array => new Uint8Array(certificate.certificate.rawData);
const node = (certificate: IssuedCertificate): X509Certificate => new X509Certificate(certificate.certPem);

const offChecker = (): RevocationChecker =>
  createRevocationChecker({
    mode: 'off',
    responderUrl: undefined,
    timeoutMs: 1000,
    maxResponseAgeMs: 3_600_000,
    cacheSize: 10,
    clock: { now: () => new Date() },
    logger: { warn: () => undefined },
  });

/** A RevocationChecker with a fixed verdict that records what it was asked. */
function fixedChecker(verdict: RevocationVerdict): RevocationChecker & {
  readonly asked: Array<{ certificate: X509Certificate; issuer: X509Certificate }>;
} {
  const asked: Array<{ certificate: X509Certificate; issuer: X509Certificate }> = [];
  return {
    asked,
    stats: { cacheHits: 0, cacheMisses: 0, responderFailures: 0, refusals: 0 },
    check: (certificate, issuer) => {
      asked.push({ certificate, issuer });
      return Promise.resolve(verdict);
    },
  };
}

function trustWith(
  anchors: readonly IssuedCertificate[],
  revocation: RevocationChecker = offChecker(),
  trustListedLeaves = false,
): { trust: CertificateTrust; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const trust = createCertificateTrust({
    anchors: anchors.map(node),
    revocation,
    label: LABEL,
    logger: { warn: (object, message) => warnings.push({ object: object as Record<string, unknown>, message }) },
    trustListedLeaves,
  });
  return { trust, warnings };
}

/** Resolves to the DomainError that `promise` rejects with (fails the test when it resolves). */
async function refusal(promise: Promise<void>): Promise<DomainError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, 'expected the certificate to be refused').to.be.instanceOf(DomainError);
  const error = outcome as DomainError;
  expect(error.code).to.equal('unauthenticated');
  return error;
}

/**
 * A certificate issued without the helpers' profile extensions: only `extensions` (e.g. no basic constraints, or no
 * key usage at all), signed by `issuer`.
 */
async function issueBare(subject: string, issuer: IssuedCertificate, extensions: x509.Extension[]) {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    subject,
    issuer: issuer.certificate.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: issuer.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const issued: IssuedCertificate = {
    certificate,
    certPem: certificate.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
  };
  return issued;
}

const ca = (subject: string, issuer?: IssuedCertificate, extra: { pathLength?: number; notAfter?: Date } = {}) =>
  issueCertificate({
    subject: `CN=${subject}, ${ORG}`,
    key: EC,
    profile: 'ca',
    ...(issuer ? { issuer } : {}),
    ...extra,
  });

const client = (issuer: IssuedCertificate, subject = PERSON) =>
  issueCertificate({ subject, key: EC, profile: 'client', issuer });

describe('certificate trust (chain building, CA constraints, validity, revocation verdicts)', function () {
  this.timeout(60_000);
  const now = new Date();
  let root: IssuedCertificate;
  let intermediate: IssuedCertificate;
  /** PERSON, issued by the intermediate. */
  let leaf: IssuedCertificate;
  /** PERSON, issued by the root directly. */
  let directLeaf: IssuedCertificate;

  before(async () => {
    root = await ca('trust test root');
    intermediate = await ca('trust test intermediate', root);
    [leaf, directLeaf] = await Promise.all([client(intermediate), client(root)]);
  });

  describe('accepted paths', () => {
    it('accepts a leaf issued directly by a configured root', async () => {
      const revocation = fixedChecker({ ok: true });
      const { trust, warnings } = trustWith([root], revocation);
      await trust.assertTrusted(der(directLeaf), now);
      expect(revocation.asked).to.have.length(1);
      expect(warnings).to.deep.equal([]);
    });

    it('accepts a leaf through an intermediate the client presented, up to the configured root', async () => {
      const { trust } = trustWith([root]);
      await trust.assertTrusted(der(leaf), now, [der(intermediate)]);
    });

    it('accepts a leaf when its intermediate is itself the configured anchor', async () => {
      const { trust } = trustWith([intermediate]);
      await trust.assertTrusted(der(leaf), now);
    });

    it('accepts a leaf through a configured intermediate when root and intermediate are both configured', async () => {
      const { trust } = trustWith([root, intermediate]);
      await trust.assertTrusted(der(leaf), now);
    });

    it('ignores presented chain entries that do not parse', async () => {
      const { trust } = trustWith([root]);
      await trust.assertTrusted(der(leaf), now, [new Uint8Array([0x30, 0x03, 0x01]), der(intermediate)]);
    });

    it('accepts an issuer and a leaf that carry no key usage extension at all (every usage allowed)', async () => {
      const noUsageCa = await issueBare(`CN=no key usage CA, ${ORG}`, root, [
        new x509.BasicConstraintsExtension(true, undefined, true),
      ]);
      const noUsageLeaf = await issueBare(`CN=no key usage leaf, ${ORG}`, noUsageCa, [
        new x509.BasicConstraintsExtension(false, undefined, true),
      ]);
      const { trust } = trustWith([root]);
      await trust.assertTrusted(der(noUsageLeaf), now, [der(noUsageCa)]);
    });

    it('asks revocation about the leaf and its direct issuer, not the root', async () => {
      const revocation = fixedChecker({ ok: true });
      const { trust } = trustWith([root], revocation);
      await trust.assertTrusted(der(leaf), now, [der(intermediate)]);
      expect(revocation.asked).to.have.length(1);
      expect(revocation.asked[0]?.certificate.raw.equals(node(leaf).raw)).to.equal(true);
      expect(revocation.asked[0]?.issuer.raw.equals(node(intermediate).raw)).to.equal(true);
    });

    it('accepts a chain of six certificates (leaf, four intermediates, root), the longest allowed', async () => {
      const chain: IssuedCertificate[] = [];
      let issuer = root;
      for (let i = 1; i <= 4; i++) {
        issuer = await ca(`depth ${i}`, issuer);
        chain.unshift(issuer);
      }
      const deep = await client(issuer);
      const { trust } = trustWith([root]);
      await trust.assertTrusted(der(deep), now, chain.map(der));
    });
  });

  describe('refused paths', () => {
    it('refuses a leaf whose issuer is not configured and not presented', async () => {
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(leaf), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf issued by a CA unrelated to the configured anchors', async () => {
      const otherRoot = await ca('some other root');
      const stranger = await client(otherRoot);
      const { trust } = trustWith([root, intermediate]);
      const error = await refusal(trust.assertTrusted(der(stranger), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf that is itself listed as an anchor but whose issuer is not configured', async () => {
      const { trust } = trustWith([leaf]);
      const error = await refusal(trust.assertTrusted(der(leaf), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a self-signed leaf even when it is listed as an anchor', async () => {
      const selfSigned = await issueCertificate({ subject: `CN=self-signed leaf, ${ORG}`, key: EC, profile: 'client' });
      const { trust } = trustWith([selfSigned, root]);
      const error = await refusal(trust.assertTrusted(der(selfSigned), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf that is a CA certificate', async () => {
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(intermediate), now));
      expect(error.message).to.equal('the client certificate is a CA certificate');
    });

    it('refuses a leaf whose key usage lacks digitalSignature', async () => {
      const agreementOnly = await issueCertificate({
        subject: PERSON,
        key: EC,
        profile: 'client',
        issuer: root,
        keyUsage: KeyUsageFlags.keyAgreement | KeyUsageFlags.nonRepudiation,
      });
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(agreementOnly), now));
      expect(error.message).to.equal('the client certificate does not allow digitalSignature');
    });

    it('refuses a leaf whose presented issuer has basicConstraints cA false, even with keyCertSign', async () => {
      const notCa = await issueCertificate({
        subject: `CN=not a CA, ${ORG}`,
        key: EC,
        profile: 'client',
        issuer: root,
        keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.digitalSignature,
      });
      const issued = await client(notCa);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(issued), now, [der(notCa)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf whose configured anchor is not a CA', async () => {
      const notCa = await issueCertificate({
        subject: `CN=configured non-CA, ${ORG}`,
        key: EC,
        profile: 'client',
        keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.digitalSignature,
      });
      const issued = await client(notCa);
      const { trust } = trustWith([notCa]);
      const error = await refusal(trust.assertTrusted(der(issued), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf whose issuer has no basicConstraints extension at all', async () => {
      const noBasic = await issueBare(`CN=no basic constraints, ${ORG}`, root, [
        new x509.KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      ]);
      const issued = await client(noBasic);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(issued), now, [der(noBasic)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf whose issuer is a CA whose key usage lacks keyCertSign', async () => {
      const noCertSign = await issueCertificate({
        subject: `CN=CA without keyCertSign, ${ORG}`,
        key: EC,
        profile: 'ca',
        issuer: root,
        keyUsage: KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
      });
      const issued = await client(noCertSign);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(issued), now, [der(noCertSign)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses a leaf issued by an intermediate below a pathLength 0 intermediate, and allows it under pathLength 1', async () => {
      const strict = await ca('pathLength 0', root, { pathLength: 0 });
      const belowStrict = await ca('below pathLength 0', strict);
      const refusedLeaf = await client(belowStrict);
      const loose = await ca('pathLength 1', root, { pathLength: 1 });
      const belowLoose = await ca('below pathLength 1', loose);
      const acceptedLeaf = await client(belowLoose);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(refusedLeaf), now, [der(belowStrict), der(strict)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
      await trust.assertTrusted(der(acceptedLeaf), now, [der(belowLoose), der(loose)]);
    });

    it('refuses an expired leaf', async () => {
      const expired = await issueCertificate({
        subject: PERSON,
        key: EC,
        profile: 'client',
        issuer: intermediate,
        notBefore: new Date(now.getTime() - 10 * DAY),
        notAfter: new Date(now.getTime() - DAY),
      });
      const { trust } = trustWith([intermediate]);
      const error = await refusal(trust.assertTrusted(der(expired), now));
      expect(error.message).to.equal('the client certificate is expired or not yet valid');
    });

    it('refuses a leaf that is not yet valid', async () => {
      const future = await issueCertificate({
        subject: PERSON,
        key: EC,
        profile: 'client',
        issuer: intermediate,
        notBefore: new Date(now.getTime() + DAY),
        notAfter: new Date(now.getTime() + 10 * DAY),
      });
      const { trust } = trustWith([intermediate]);
      const error = await refusal(trust.assertTrusted(der(future), now));
      expect(error.message).to.equal('the client certificate is expired or not yet valid');
    });

    it('judges validity at the `now` it is given, not at the wall clock', async () => {
      const { trust } = trustWith([root]);
      const later = new Date(now.getTime() + 3 * 365 * DAY);
      const error = await refusal(trust.assertTrusted(der(directLeaf), later));
      // The root and the leaf are both past their notAfter then; the leaf is named first.
      expect(error.message).to.equal('the client certificate is expired or not yet valid');
    });

    it('refuses a valid leaf whose presented intermediate has expired', async () => {
      const expiredCa = await issueCertificate({
        subject: `CN=expired intermediate, ${ORG}`,
        key: EC,
        profile: 'ca',
        issuer: root,
        notBefore: new Date(now.getTime() - 10 * DAY),
        notAfter: new Date(now.getTime() - DAY),
      });
      const issued = await client(expiredCa);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(issued), now, [der(expiredCa)]));
      expect(error.message).to.equal('the client certificate has an issuer that is expired or not yet valid');
    });

    it('refuses a forged leaf: the issuer name and key identifier of the root, signed by another key', async () => {
      const impostorKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
        'sign',
        'verify',
      ]);
      const forger: IssuedCertificate = {
        ...root,
        keys: { publicKey: root.keys.publicKey, privateKey: impostorKeys.privateKey },
      };
      const forged = await client(forger);
      expect(forged.certificate.issuer).to.equal(root.certificate.subject);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(forged), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses bytes that are not a certificate, and a truncated certificate', async () => {
      const revocation = fixedChecker({ ok: true });
      const { trust, warnings } = trustWith([root], revocation);
      const garbage = await refusal(trust.assertTrusted(new Uint8Array([0x30, 0x82, 0xff, 0xff, 0x01, 0x02]), now));
      expect(garbage.message).to.equal('the client certificate does not parse');
      const truncated = await refusal(trust.assertTrusted(der(directLeaf).subarray(0, 100), now));
      expect(truncated.message).to.equal('the client certificate does not parse');
      expect(warnings.map((warning) => warning.object['reason'])).to.deep.equal(['does not parse', 'does not parse']);
      expect(revocation.asked).to.have.length(0);
    });

    it('refuses a chain of seven certificates (leaf, five intermediates, root)', async () => {
      const chain: IssuedCertificate[] = [];
      let issuer = root;
      for (let i = 1; i <= 5; i++) {
        issuer = await ca(`too deep ${i}`, issuer);
        chain.unshift(issuer);
      }
      const deep = await client(issuer);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(deep), now, chain.map(der)));
      expect(error.message).to.equal('the client certificate has too long a chain');
    });

    it('refuses a leaf that chains to a self-signed root the client presented, as not trusted', async () => {
      const rogueRoot = await ca('presented rogue root');
      const issued = await client(rogueRoot);
      const { trust } = trustWith([root]);
      const error = await refusal(trust.assertTrusted(der(issued), now, [der(rogueRoot)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('does not ask about revocation when the path is refused', async () => {
      const revocation = fixedChecker({ ok: true });
      const { trust } = trustWith([root], revocation);
      await refusal(trust.assertTrusted(der(leaf), now));
      expect(revocation.asked).to.have.length(0);
    });
  });

  describe('direct trust of a listed self-signed client certificate', () => {
    const selfSigned = (extra: { notAfter?: Date; subject?: string; profile?: 'client' | 'ca' } = {}) =>
      issueCertificate({
        subject: extra.subject ?? `CN=listed test client, ${ORG}`,
        key: EC,
        profile: extra.profile ?? 'client',
        ...(extra.notAfter ? { notAfter: extra.notAfter } : {}),
      });
    const direct = (anchors: readonly IssuedCertificate[], revocation?: RevocationChecker) =>
      trustWith(anchors, revocation, true);

    it('accepts the listed certificate presented as is, without asking OCSP (no issuer could answer)', async () => {
      const listed = await selfSigned();
      const checker = fixedChecker({ ok: false, reason: 'revoked' });
      await direct([listed, root], checker).trust.assertTrusted(der(listed), now);
      expect(checker.asked).to.deep.equal([]);
    });

    it('accepts a listed one without basic constraints or key usage (as keytool makes them)', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const bare = await x509.X509CertificateGenerator.createSelfSigned({
        name: `CN=keytool-like client, ${ORG}`,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + DAY),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        keys,
      });
      const pem = bare.toString('pem');
      const trust = createCertificateTrust({
        anchors: [new X509Certificate(pem)],
        revocation: offChecker(),
        label: LABEL,
        logger: { warn: () => undefined },
        trustListedLeaves: true,
      });
      await trust.assertTrusted(new Uint8Array(bare.rawData), now);
    });

    it('refuses a same-subject impostor: another key under the listed name', async () => {
      const listed = await selfSigned();
      const impostor = await selfSigned();
      expect(impostor.certificate.subject).to.equal(listed.certificate.subject);
      const error = await refusal(direct([listed]).trust.assertTrusted(der(impostor), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it("refuses a certificate signed by the listed certificate's key: a listed leaf never issues", async () => {
      const listed = await selfSigned();
      const issued = await client(listed, `CN=issued by a listed leaf, ${ORG}`);
      const error = await refusal(direct([listed]).trust.assertTrusted(der(issued), now, [der(listed)]));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });

    it('refuses the listed certificate once it has expired', async () => {
      const expired = await issueCertificate({
        subject: `CN=expired listed client, ${ORG}`,
        key: EC,
        profile: 'client',
        notBefore: new Date(now.getTime() - 10 * DAY),
        notAfter: new Date(now.getTime() - DAY),
      });
      const error = await refusal(direct([expired]).trust.assertTrusted(der(expired), now));
      expect(error.message).to.equal('the client certificate is expired or not yet valid');
    });

    it('refuses a listed self-signed CA certificate presented as a client certificate', async () => {
      const listedCa = await selfSigned({ profile: 'ca' });
      const error = await refusal(direct([listedCa]).trust.assertTrusted(der(listedCa), now));
      expect(error.message).to.equal('the client certificate is a CA certificate');
    });

    it('refuses a listed certificate that is not self-signed unless its issuer is listed too', async () => {
      const error = await refusal(direct([leaf]).trust.assertTrusted(der(leaf), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
      await direct([leaf, root, intermediate]).trust.assertTrusted(der(leaf), now);
    });

    it('is off for auth certificates: a listed self-signed one is still refused', async () => {
      const listed = await selfSigned();
      const error = await refusal(trustWith([listed]).trust.assertTrusted(der(listed), now));
      expect(error.message).to.equal('the client certificate is not issued by a trusted issuer');
    });
  });

  describe('refusal log line', () => {
    it('names the reason and the serial number, not the unverified issuer field, and no personal data', async () => {
      const { trust, warnings } = trustWith([root]);
      await refusal(trust.assertTrusted(der(leaf), now));
      expect(warnings).to.have.length(1);
      const [warning] = warnings;
      expect(warning?.message).to.equal('certificate refused');
      expect(warning?.object).to.include({
        certificate: LABEL,
        reason: 'is not issued by a trusted issuer',
        serial: node(leaf).serialNumber,
      });
      // Without a path to an anchor the issuer field is whatever the client wrote: it is not logged.
      expect((warning?.object as Record<string, unknown>)['issuer']).to.equal(undefined);
      const logged = JSON.stringify(warning);
      expect(logged).to.not.contain('Mari-Liis');
      expect(logged).to.not.contain(PERSON_CN);
      expect(logged).to.not.contain(PERSON_CODE);
    });

    it('logs an expired leaf without its subject either', async () => {
      const expired = await issueCertificate({
        subject: PERSON,
        key: EC,
        profile: 'client',
        issuer: root,
        notBefore: new Date(now.getTime() - 10 * DAY),
        notAfter: new Date(now.getTime() - DAY),
      });
      const { trust, warnings } = trustWith([root]);
      await refusal(trust.assertTrusted(der(expired), now));
      expect(warnings.map((warning) => warning.object['reason'])).to.deep.equal(['is expired or not yet valid']);
      expect(warnings[0]?.object['serial']).to.equal(node(expired).serialNumber);
      // The path reached the anchor, so the issuer named is the trusted CA.
      expect(warnings[0]?.object['issuer']).to.equal(node(root).subject);
      expect(JSON.stringify(warnings)).to.not.contain(PERSON_CN);
    });

    it('does not log the name of a self-signed personal certificate through its issuer field', async () => {
      const selfSigned = await issueCertificate({ subject: PERSON, key: EC, profile: 'client' });
      const { trust, warnings } = trustWith([root]);
      await refusal(trust.assertTrusted(der(selfSigned), now));
      expect(warnings).to.have.length(1);
      expect(JSON.stringify(warnings)).to.not.contain(PERSON_CN);
      expect(JSON.stringify(warnings)).to.not.contain(PERSON_CODE);
    });
  });

  describe('revocation verdicts', () => {
    it('turns a revocation refusal into "the <label> is refused: <reason>" and logs it', async () => {
      const revocation = fixedChecker({ ok: false, reason: 'the certificate is revoked' });
      const { trust, warnings } = trustWith([root], revocation);
      const error = await refusal(trust.assertTrusted(der(leaf), now, [der(intermediate)]));
      expect(error.message).to.equal('the client certificate is refused: the certificate is revoked');
      expect(revocation.asked).to.have.length(1);
      expect(warnings).to.have.length(1);
      expect(warnings[0]?.message).to.equal('certificate refused');
      expect(warnings[0]?.object).to.include({
        reason: 'is refused: the certificate is revoked',
        serial: node(leaf).serialNumber,
      });
      expect(JSON.stringify(warnings)).to.not.contain(PERSON_CN);
    });

    it('uses the configured label in the message', async () => {
      const warnings: Warning[] = [];
      const trust = createCertificateTrust({
        anchors: [node(root)],
        revocation: fixedChecker({ ok: false, reason: 'revocation status unavailable: the responder is down' }),
        label: 'auth certificate',
        logger: { warn: (object, message) => warnings.push({ object: object as Record<string, unknown>, message }) },
      });
      const error = await refusal(trust.assertTrusted(der(directLeaf), now));
      expect(error.message).to.equal(
        'the auth certificate is refused: revocation status unavailable: the responder is down',
      );
      expect(warnings[0]?.object['certificate']).to.equal('auth certificate');
    });
  });
});
