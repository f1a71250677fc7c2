// @peculiar/x509 needs the Reflect polyfill before it loads.
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { KeyUsageFlags } from '@peculiar/x509';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';

/**
 * A PKI for certificate revocation (OCSP, RFC 6960) tests: root CA → intermediate CA → end-entity certificates,
 * plus a delegated OCSP responder certificate and a rogue one. Every end-entity certificate carries the OCSP URL
 * in its Authority Information Access extension when `ocspUrl` is given, so pick the responder's port first
 * (`findFreePort()` in ocsp-responder.ts) and start the responder on it afterwards.
 */

/** id-kp-OCSPSigning (RFC 6960 4.2.2.2). */
export const OCSP_SIGNING_EKU = '1.3.6.1.5.5.7.3.9';
/** id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): a delegated responder's own certificate is not checked. */
export const OCSP_NOCHECK_OID = '1.3.6.1.5.5.7.48.1.5';

export const OCSP_PKI_NAMES = [
  'root',
  'intermediate',
  'good',
  'revoked',
  'unknown',
  'authGood',
  'authRevoked',
  'ocspSigner',
  'rogueSigner',
  'server',
] as const;

export type OcspPkiName = (typeof OCSP_PKI_NAMES)[number];

export interface OcspPemFiles {
  readonly cert: string;
  /** PKCS#8 PEM, mode 0600. */
  readonly key: string;
}

/** The personal codes (subject serialNumber) of the authentication certificates. */
export const OCSP_AUTH_PERSONS = {
  authGood: 'PNOEE-30303039914',
  authRevoked: 'PNOEE-30303039816',
} as const;

export interface OcspPki {
  /** Temporary directory holding every certificate and key as PEM (`<name>.pem`, `<name>-key.pem`). */
  readonly dir: string;
  /** The OCSP URL written into the AIA extensions, if any. */
  readonly ocspUrl: string | undefined;
  readonly root: IssuedCertificate;
  /** Issued by root, pathLength 0: the issuer of every other certificate except rogueSigner. */
  readonly intermediate: IssuedCertificate;
  /** Client certificates (EC P-256, clientAuth); the responder is meant to report good / revoked / unknown. */
  readonly good: IssuedCertificate;
  readonly revoked: IssuedCertificate;
  /** Meant to be left out of the responder's index, so that it answers "unknown". */
  readonly unknown: IssuedCertificate;
  /** Smart-ID-like authentication certificates (RSA 2048, `2.5.4.5=PNOEE-…, CN="TESTNUMBER,OK", C=EE`). */
  readonly authGood: IssuedCertificate;
  readonly authRevoked: IssuedCertificate;
  /** Delegated responder issued by the intermediate: EKU OCSPSigning only, keyUsage digitalSignature, ocsp-nocheck. */
  readonly ocspSigner: IssuedCertificate;
  /** Self-signed, EKU OCSPSigning: responses it signs must be refused. */
  readonly rogueSigner: IssuedCertificate;
  /** TLS server certificate for localhost / 127.0.0.1 (for OCSP stapling). */
  readonly server: IssuedCertificate;
  /** Server certificate followed by the intermediate's. */
  readonly serverChainPem: string;
  readonly files: Readonly<Record<OcspPkiName, OcspPemFiles>>;
  /** root + intermediate, as a trust bundle (e.g. `openssl ocsp -CAfile`). */
  readonly caBundleFile: string;
  /** serverChainPem written out. */
  readonly serverChainFile: string;
  /** Removes `dir`. */
  cleanup(): Promise<void>;
}

export interface OcspPkiOptions {
  /** Written as the OCSP access location (AIA) of the client, authentication and server certificates. */
  readonly ocspUrl?: string;
  /** Where to write the PEM files; a fresh temporary directory when absent. */
  readonly dir?: string;
}

const EC_P256 = { kind: 'ec', curve: 'P-256' } as const;
const ORG = 'O=cdoc2-keyserver OCSP tests';

export async function generateOcspPki(options: OcspPkiOptions = {}): Promise<OcspPki> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cdoc2-ocsp-pki-'));
  mkdirSync(dir, { recursive: true });
  const aia = (): x509.Extension[] =>
    options.ocspUrl === undefined ? [] : [new x509.AuthorityInfoAccessExtension({ ocsp: [options.ocspUrl] })];

  const root = await issueCertificate({ subject: `CN=cdoc2 OCSP test root CA, ${ORG}`, key: EC_P256, profile: 'ca' });
  const intermediate = await issueCertificate({
    subject: `CN=cdoc2 OCSP test intermediate CA, ${ORG}`,
    key: EC_P256,
    profile: 'ca',
    issuer: root,
    pathLength: 0,
  });

  const client = (name: string) =>
    issueCertificate({
      subject: `CN=OCSP ${name} client, ${ORG}`,
      key: EC_P256,
      profile: 'client',
      issuer: intermediate,
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement,
      extraExtensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]), ...aia()],
    });
  const auth = (person: string) =>
    issueCertificate({
      subject: `2.5.4.5=${person}, CN="TESTNUMBER,OK", C=EE`,
      key: { kind: 'rsa', bits: 2048 },
      profile: 'client',
      issuer: intermediate,
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment | KeyUsageFlags.dataEncipherment,
      extraExtensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]), ...aia()],
    });
  const responderExtensions = (): x509.Extension[] => [
    new x509.ExtendedKeyUsageExtension([OCSP_SIGNING_EKU]),
    // The value is an ASN.1 NULL.
    new x509.Extension(OCSP_NOCHECK_OID, false, new Uint8Array([0x05, 0x00])),
  ];

  const [good, revoked, unknown, authGood, authRevoked, ocspSigner, rogueSigner, server] = await Promise.all([
    client('good'),
    client('revoked'),
    client('unknown'),
    auth(OCSP_AUTH_PERSONS.authGood),
    auth(OCSP_AUTH_PERSONS.authRevoked),
    issueCertificate({
      subject: `CN=cdoc2 OCSP test responder, ${ORG}`,
      key: EC_P256,
      profile: 'client',
      issuer: intermediate,
      keyUsage: KeyUsageFlags.digitalSignature,
      extraExtensions: responderExtensions(),
    }),
    issueCertificate({
      subject: 'CN=rogue OCSP responder, O=somebody else',
      key: EC_P256,
      profile: 'client',
      keyUsage: KeyUsageFlags.digitalSignature,
      extraExtensions: responderExtensions(),
    }),
    issueCertificate({
      subject: `CN=localhost, ${ORG}`,
      key: EC_P256,
      profile: 'server',
      issuer: intermediate,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extraExtensions: aia(),
    }),
  ]);

  const certificates: Record<OcspPkiName, IssuedCertificate> = {
    root,
    intermediate,
    good,
    revoked,
    unknown,
    authGood,
    authRevoked,
    ocspSigner,
    rogueSigner,
    server,
  };
  const files = {} as Record<OcspPkiName, OcspPemFiles>;
  for (const name of OCSP_PKI_NAMES) {
    const pemFiles = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
    writeFileSync(pemFiles.cert, certificates[name].certPem);
    writeFileSync(pemFiles.key, certificates[name].keyPem, { mode: 0o600 });
    files[name] = pemFiles;
  }
  const caBundleFile = join(dir, 'ca-bundle.pem');
  writeFileSync(caBundleFile, root.certPem + intermediate.certPem);
  const serverChainPem = server.certPem + intermediate.certPem;
  const serverChainFile = join(dir, 'server-chain.pem');
  writeFileSync(serverChainFile, serverChainPem);

  return {
    dir,
    ocspUrl: options.ocspUrl,
    ...certificates,
    serverChainPem,
    files,
    caBundleFile,
    serverChainFile,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
