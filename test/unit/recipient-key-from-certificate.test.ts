import { createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { issueCertificate, type IssuedCertificate, type KeySpec } from '../../src/pki/certificates.js';
import { checkEcPoint, type CurveName } from '../../src/domain/ec-point.js';
import { parseRsaPublicKey } from '../../src/domain/rsa-public-key.js';
import { recipientKeyFromCertificate } from '../../src/transport/tls/recipient-key-from-certificate.js';
import * as x509 from '@peculiar/x509';
import { COORDINATE_BYTES, ecPointOf, spkiPointOf, type EcTestPoint } from '../fixtures/keys.js';

const clientCertificate = (key: KeySpec): Promise<IssuedCertificate> =>
  issueCertificate({ subject: 'CN=Recipient, O=cdoc2-keyserver unit tests', key, profile: 'client' });

const derOf = (issued: IssuedCertificate): Buffer => new X509Certificate(issued.certPem).raw;

/** The point node:crypto derives from the certificate's private key, built independently of the code under test. */
const expectedPoint = (issued: IssuedCertificate, curve: CurveName): EcTestPoint =>
  ecPointOf(createPublicKey(issued.keyPem), curve);

describe('recipientKeyFromCertificate', () => {
  for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
    it(`derives the uncompressed ${curve} point of an EC client certificate`, async () => {
      const issued = await clientCertificate({ kind: 'ec', curve });
      const key = recipientKeyFromCertificate(derOf(issued));
      if (key.kind !== 'ec') {
        throw new Error(`expected an EC key, got ${key.kind}`);
      }
      expect(key.curve).to.equal(curve);
      expect(key.point).to.have.length(1 + 2 * COORDINATE_BYTES[curve]);
      const expected = expectedPoint(issued, curve);
      expect(Buffer.from(key.point).equals(expected.point)).to.equal(true);
      expect(Buffer.from(key.point).equals(spkiPointOf(createPublicKey(issued.keyPem), curve))).to.equal(true);
      expect(checkEcPoint(key.point, curve)).to.equal(undefined);
    });
  }

  it('pads a P-521 coordinate that has a leading zero byte to the full 66 bytes', async () => {
    // About half of all P-521 keys have such a coordinate (its top byte is 0 or 1); 40 tries make a miss
    // vanishingly unlikely, and a miss fails the test rather than passing it quietly.
    let found: { issued: IssuedCertificate; expected: EcTestPoint } | undefined;
    for (let attempt = 0; attempt < 40 && !found; attempt++) {
      const issued = await clientCertificate({ kind: 'ec', curve: 'P-521' });
      const expected = expectedPoint(issued, 'P-521');
      if (expected.xMinimalLength < 66 || expected.yMinimalLength < 66) {
        found = { issued, expected };
      }
    }
    if (!found) {
      throw new Error('no P-521 key with a leading zero byte in 40 attempts');
    }
    const key = recipientKeyFromCertificate(derOf(found.issued));
    if (key.kind !== 'ec') {
      throw new Error(`expected an EC key, got ${key.kind}`);
    }
    expect(key.point).to.have.length(133);
    expect(Buffer.from(key.point).equals(found.expected.point)).to.equal(true);
    // The zero bytes sit where the padding belongs: at the start of the short coordinate.
    const x = Buffer.from(key.point.subarray(1, 67));
    const y = Buffer.from(key.point.subarray(67));
    expect(x[0] === 0 || y[0] === 0).to.equal(true);
    expect(checkEcPoint(key.point, 'P-521')).to.equal(undefined);
  });

  it('derives the DER PKCS#1 public key of an RSA 2048 client certificate', async () => {
    const issued = await clientCertificate({ kind: 'rsa', bits: 2048 });
    const key = recipientKeyFromCertificate(derOf(issued));
    if (key.kind !== 'rsa') {
      throw new Error(`expected an RSA key, got ${key.kind}`);
    }
    const expected = createPublicKey(issued.keyPem).export({ type: 'pkcs1', format: 'der' });
    expect(Buffer.from(key.pkcs1).equals(expected)).to.equal(true);
    expect(parseRsaPublicKey(key.pkcs1)).to.deep.equal({ modulusBits: 2048 });
  });

  it('reads the subject key, not the issuer key, of a certificate signed by a CA', async () => {
    const ca = await issueCertificate({ subject: 'CN=Unit CA', key: { kind: 'ec', curve: 'P-384' }, profile: 'ca' });
    const issued = await issueCertificate({
      subject: 'CN=Recipient',
      key: { kind: 'ec', curve: 'P-256' },
      profile: 'client',
      issuer: ca,
    });
    const key = recipientKeyFromCertificate(derOf(issued));
    expect(key.kind === 'ec' && key.curve).to.equal('P-256');
    expect(key.kind === 'ec' && Buffer.from(key.point).equals(expectedPoint(issued, 'P-256').point)).to.equal(true);
  });

  it('reports an Ed25519 certificate as unsupported', async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Ed25519 recipient',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2036-01-01T00:00:00Z'),
      signingAlgorithm: { name: 'Ed25519' },
      keys,
    });
    expect(recipientKeyFromCertificate(Buffer.from(certificate.rawData))).to.deep.equal({ kind: 'unsupported' });
  });

  it('throws on bytes that are not a certificate', () => {
    expect(() => recipientKeyFromCertificate(Buffer.from('not a certificate'))).to.throw();
  });
});
