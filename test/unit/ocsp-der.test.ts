import 'reflect-metadata';
import { createHash, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPRequest } from '@peculiar/asn1-ocsp';
import { expect } from 'chai';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import { certificateFields, readTlv } from '../../src/pki/der.js';
import { createOcspRequest, ocspUrlOf } from '../../src/pki/ocsp.js';

describe('DER fields of a certificate (for OCSP CertIDs)', () => {
  let ca: IssuedCertificate;
  let leaves: IssuedCertificate[];

  before(async () => {
    ca = await issueCertificate({
      subject: 'CN=DER test CA, O=cdoc2 tests, C=EE',
      key: { kind: 'ec', curve: 'P-384' },
      profile: 'ca',
    });
    leaves = await Promise.all([
      issueCertificate({ subject: 'CN=leaf EC', key: { kind: 'ec', curve: 'P-256' }, profile: 'client', issuer: ca }),
      issueCertificate({ subject: 'CN=leaf RSA', key: { kind: 'rsa', bits: 2048 }, profile: 'client', issuer: ca }),
      issueCertificate({
        subject: 'CN=leaf with AIA',
        key: { kind: 'ec', curve: 'P-256' },
        profile: 'client',
        issuer: ca,
        extraExtensions: [new x509.AuthorityInfoAccessExtension({ ocsp: ['http://127.0.0.1:9999/ocsp'] })],
      }),
    ]);
  });

  it('reads the serial number that node:crypto reports', () => {
    for (const leaf of leaves) {
      const node = new X509Certificate(leaf.certPem);
      const serial = certificateFields(node.raw).serialNumber.toString('hex').toUpperCase().replace(/^0+/, '');
      expect(serial).to.equal(node.serialNumber.replace(/^0+/, ''));
    }
  });

  it('reads the subject Name exactly as encoded', () => {
    const der = new X509Certificate(ca.certPem).raw;
    const subject = certificateFields(der).subject;
    expect(subject.equals(Buffer.from(ca.certificate.subjectName.toArrayBuffer()))).to.equal(true);
  });

  it('reads the public key bits that the SubjectPublicKeyInfo ends with', () => {
    for (const certificate of [ca, ...leaves]) {
      const node = new X509Certificate(certificate.certPem);
      const spki = node.publicKey.export({ type: 'spki', format: 'der' });
      const bits = certificateFields(node.raw).publicKeyBits;
      expect(bits.length).to.be.greaterThan(60);
      expect(spki.subarray(spki.length - bits.length).equals(bits)).to.equal(true);
    }
  });

  it('refuses truncated input', () => {
    const der = new X509Certificate(ca.certPem).raw;
    expect(() => readTlv(der.subarray(0, der.length - 1))).to.throw(/truncated/);
    expect(() => certificateFields(Buffer.from([0x30, 0x00]))).to.throw(/not a certificate/);
  });

  it('builds an OCSP request whose CertID hashes the issuer name and key with SHA-1', () => {
    const leaf = new X509Certificate(leaves[0]?.certPem ?? '');
    const issuer = new X509Certificate(ca.certPem);
    const request = AsnConvert.parse(createOcspRequest(leaf, issuer), OCSPRequest);
    const id = request.tbsRequest.requestList[0]?.reqCert;
    const fields = certificateFields(issuer.raw);
    const sha1 = (data: Buffer): Buffer => createHash('sha1').update(data).digest();
    expect(id?.hashAlgorithm.algorithm).to.equal('1.3.14.3.2.26');
    expect(Buffer.from(id?.issuerNameHash.buffer ?? new ArrayBuffer(0)).equals(sha1(fields.subject))).to.equal(true);
    expect(Buffer.from(id?.issuerKeyHash.buffer ?? new ArrayBuffer(0)).equals(sha1(fields.publicKeyBits))).to.equal(
      true,
    );
    expect(
      Buffer.from(id?.serialNumber ?? new ArrayBuffer(0)).equals(certificateFields(leaf.raw).serialNumber),
    ).to.equal(true);
  });

  it('reads the OCSP responder URL from the AIA extension, and nothing when there is none', () => {
    expect(ocspUrlOf(new X509Certificate(leaves[2]?.certPem ?? ''))).to.equal('http://127.0.0.1:9999/ocsp');
    expect(ocspUrlOf(new X509Certificate(leaves[0]?.certPem ?? ''))).to.equal(undefined);
  });
});
