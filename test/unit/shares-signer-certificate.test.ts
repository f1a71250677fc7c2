import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { allowedAlgorithms, parseSignerCertificate } from '../../src/auth/signer-certificate.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import { createIssuerTrust } from '../support/issuer-trust.js';
import { base64urlDer, oneLinePem } from '../support/auth-ticket-builder.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';
import { expectUnauthenticated, issueAuthCertificate, refusedAuthCertificates } from './shares-helpers.js';

const DAY = 86_400_000;

/** parseSignerCertificate throws synchronously; wrap it so the shared rejection helper can inspect it. */
const parsing = (x5c: string): Promise<unknown> => new Promise((resolve) => resolve(parseSignerCertificate(x5c)));

describe('auth ticket signer certificate', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let dualUsage: IssuedCertificate;
  let twoSerialNumbers: IssuedCertificate;

  before(async () => {
    pki = await getTestPki();
    ({ dualUsage, twoSerialNumbers } = await refusedAuthCertificates(pki.authCa));
  });

  describe('parseSignerCertificate', () => {
    const forms: Array<[string, (certificate: IssuedCertificate) => string]> = [
      ['one-line PEM', (certificate) => oneLinePem(certificate)],
      ['multi-line PEM', (certificate) => certificate.certPem],
      ['PEM with CRLF line ends', (certificate) => certificate.certPem.replace(/\n/g, '\r\n')],
      ['base64url DER', (certificate) => base64urlDer(certificate)],
      ['base64url DER with surrounding whitespace', (certificate) => ` ${base64urlDer(certificate)}\n`],
    ];
    for (const [form, encode] of forms) {
      it(`reads ${form}: the DER, the key and the subject serialNumber`, () => {
        const certificate = pki.auth.rsa2048;
        const parsed = parseSignerCertificate(encode(certificate));
        expect(Buffer.from(parsed.der).equals(Buffer.from(certificate.certificate.rawData))).to.equal(true);
        expect(parsed.subjectSerialNumber).to.equal('PNOEE-38001085718');
        expect(parsed.publicKey.asymmetricKeyType).to.equal('rsa');
      });
    }

    it('reads an EC P-384 certificate', () => {
      const parsed = parseSignerCertificate(oneLinePem(pki.auth.ecP384));
      expect(parsed.subjectSerialNumber).to.equal('PNOEE-39912319997');
      expect(parsed.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('secp384r1');
    });

    it('refuses a signing certificate (nonRepudiation only) for lack of digitalSignature', async () => {
      await expectUnauthenticated(parsing(oneLinePem(pki.authSigning)), /digitalSignature/);
    });

    it('refuses a certificate with nonRepudiation besides digitalSignature', async () => {
      await expectUnauthenticated(parsing(oneLinePem(dualUsage)), /nonRepudiation/);
    });

    it('refuses a CA certificate (keyCertSign, no digitalSignature)', async () => {
      await expectUnauthenticated(parsing(oneLinePem(pki.authCa)), /digitalSignature/);
    });

    it('refuses a certificate whose subject has no serialNumber', async () => {
      await expectUnauthenticated(parsing(oneLinePem(pki.clients.rsa2048)), /serialNumber/);
    });

    it('refuses a certificate whose subject has two serialNumbers', async () => {
      await expectUnauthenticated(parsing(oneLinePem(twoSerialNumbers)), /serialNumber/);
    });

    const garbage: Array<[string, string, RegExp]> = [
      ['the empty string', '', /neither PEM nor base64url/],
      ['text', 'hello world', /neither PEM nor base64url/],
      ['a PEM of another type', '-----BEGIN PUBLIC KEY-----AAAA-----END PUBLIC KEY-----', /neither/],
      ['a PEM with text after the end line', '-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----x', /neither/],
      ['base64url that is no DER', 'AAAAAAAA', /does not parse/],
      ['an empty PEM body of padding', '-----BEGIN CERTIFICATE-----====-----END CERTIFICATE-----', /does not parse/],
    ];
    for (const [what, x5c, reason] of garbage) {
      it(`refuses ${what}`, async () => {
        await expectUnauthenticated(parsing(x5c), reason);
      });
    }
  });

  describe('allowedAlgorithms', () => {
    const keyOf = (certificate: IssuedCertificate) => parseSignerCertificate(oneLinePem(certificate)).publicKey;

    it('allows RS* and PS* for an RSA key', () => {
      expect(allowedAlgorithms(keyOf(pki.auth.rsa2048))).to.have.members([
        'RS256',
        'RS384',
        'RS512',
        'PS256',
        'PS384',
        'PS512',
      ]);
    });

    it('allows only PS* for an RSA-PSS key', () => {
      const { publicKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
      expect(allowedAlgorithms(publicKey)).to.have.members(['PS256', 'PS384', 'PS512']);
    });

    it('ties the EC algorithm to the curve', () => {
      expect(allowedAlgorithms(keyOf(pki.auth.ecP256))).to.deep.equal(['ES256']);
      expect(allowedAlgorithms(keyOf(pki.auth.ecP384))).to.deep.equal(['ES384']);
      expect(allowedAlgorithms(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey)).to.deep.equal(['ES512']);
    });

    it('allows nothing for other curves and key types, and never none or HMAC', () => {
      expect(allowedAlgorithms(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey)).to.deep.equal([]);
      expect(allowedAlgorithms(generateKeyPairSync('ed25519').publicKey)).to.deep.equal([]);
      for (const certificate of [pki.auth.rsa2048, pki.auth.ecP256, pki.auth.ecP384]) {
        const algorithms = allowedAlgorithms(keyOf(certificate));
        expect(algorithms).not.to.include('none');
        expect(algorithms.filter((alg) => alg.startsWith('HS'))).to.deep.equal([]);
      }
    });
  });

  describe('createIssuerTrust', () => {
    /** A copy: rawData is the shared PKI's buffer, and one test damages the bytes it gets. */
    const der = (certificate: IssuedCertificate): Uint8Array =>
      new Uint8Array(certificate.certificate.rawData.slice(0));

    it('trusts a certificate issued by a configured issuer', async () => {
      const trust = createIssuerTrust([pki.authCa.certPem]);
      await trust.assertTrusted(der(pki.auth.ecP256), new Date());
    });

    it('finds the issuer among several configured ones', async () => {
      const trust = createIssuerTrust([pki.ca.certPem, pki.untrustedCa.certPem, pki.authCa.certPem]);
      await trust.assertTrusted(der(pki.auth.rsa4096), new Date());
      await trust.assertTrusted(der(pki.authUntrusted), new Date());
    });

    it('refuses a certificate of another issuer', async () => {
      const trust = createIssuerTrust([pki.authCa.certPem]);
      await expectUnauthenticated(trust.assertTrusted(der(pki.authUntrusted), new Date()), /trusted issuer/);
    });

    it('refuses when no issuer is configured', async () => {
      await expectUnauthenticated(
        createIssuerTrust([]).assertTrusted(der(pki.auth.ecP256), new Date()),
        /trusted issuer/,
      );
    });

    it('refuses a certificate whose issuer has the trusted name but another key', async () => {
      const impostorCa = await issueCertificate({
        subject: pki.authCa.certificate.subject,
        key: { kind: 'ec', curve: 'P-256' },
        profile: 'ca',
      });
      const impostor = await issueAuthCertificate(impostorCa);
      expect(impostor.certificate.issuer).to.equal(pki.authCa.certificate.subject);
      const trust = createIssuerTrust([pki.authCa.certPem]);
      await expectUnauthenticated(trust.assertTrusted(der(impostor), new Date()), /trusted issuer/);
    });

    it('refuses a certificate configured as its own issuer', async () => {
      const trust = createIssuerTrust([pki.auth.ecP256.certPem]);
      await expectUnauthenticated(trust.assertTrusted(der(pki.auth.ecP256), new Date()), /trusted issuer/);
    });

    it('refuses a certificate with one byte of its signature changed', async () => {
      const bytes = der(pki.auth.ecP256);
      const index = bytes.length - 10;
      bytes[index] = (bytes[index] ?? 0) ^ 0x01;
      const trust = createIssuerTrust([pki.authCa.certPem]);
      await expectUnauthenticated(trust.assertTrusted(bytes, new Date()), /trusted issuer/);
    });

    it('refuses an expired certificate', async () => {
      const trust = createIssuerTrust([pki.authCa.certPem]);
      await expectUnauthenticated(trust.assertTrusted(der(pki.authExpired), new Date()), /expired/);
    });

    it('refuses a certificate before its validity starts', async () => {
      const trust = createIssuerTrust([pki.authCa.certPem]);
      const before = new Date(pki.auth.ecP256.certificate.notBefore.getTime() - 1000);
      await expectUnauthenticated(trust.assertTrusted(der(pki.auth.ecP256), before), /not yet valid/);
    });

    it('accepts a certificate at the first and the last second of its validity', async () => {
      const trust = createIssuerTrust([pki.authCa.certPem]);
      const { notBefore, notAfter } = pki.auth.ecP256.certificate;
      await trust.assertTrusted(der(pki.auth.ecP256), notBefore);
      await trust.assertTrusted(der(pki.auth.ecP256), notAfter);
      await expectUnauthenticated(
        trust.assertTrusted(der(pki.auth.ecP256), new Date(notAfter.getTime() + 1000)),
        /expired/,
      );
    });

    it('refuses a valid certificate whose issuer has expired', async () => {
      const shortLivedCa = await issueCertificate({
        subject: 'CN=short-lived authentication CA, O=cdoc2-keyserver tests',
        key: { kind: 'ec', curve: 'P-256' },
        profile: 'ca',
        notAfter: new Date(Date.now() + DAY),
      });
      const leaf = await issueAuthCertificate(shortLivedCa);
      const trust = createIssuerTrust([shortLivedCa.certPem]);
      await trust.assertTrusted(der(leaf), new Date());
      await expectUnauthenticated(
        trust.assertTrusted(der(leaf), new Date(Date.now() + 2 * DAY)),
        /issuer that is expired/,
      );
    });
  });
});
