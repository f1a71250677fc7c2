// @peculiar/x509 needs the Reflect polyfill before it loads.
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { KeyUsageFlags } from '@peculiar/x509';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, type IssuedCertificate, type KeySpec } from '../../src/pki/certificates.js';
import { issueEcP256, issueLocalServerPki } from '../../src/pki/dev-pki.js';

/**
 * The tests' PKI: a CA, a server certificate for localhost, recipient client certificates with every key kind the
 * key capsule server accepts, and the certificates that must be refused (another CA's, an expired one).
 * Generated afresh for each test run (about three seconds, mostly the RSA 4096 key), written to a temporary
 * directory because the server's configuration takes file paths.
 */
export const CLIENT_KEYS = {
  ecP256: { kind: 'ec', curve: 'P-256' },
  ecP384: { kind: 'ec', curve: 'P-384' },
  ecP521: { kind: 'ec', curve: 'P-521' },
  rsa2048: { kind: 'rsa', bits: 2048 },
  rsa4096: { kind: 'rsa', bits: 4096 },
} as const satisfies Record<string, KeySpec>;

export type ClientName = keyof typeof CLIENT_KEYS;

/**
 * Authentication certificates as Smart-ID / Mobile-ID issue them: subject serialNumber `PNOEE-…`, key usage
 * digitalSignature (and key encipherment for RSA), never nonRepudiation. Each has its own person.
 */
export const AUTH_KEYS = {
  rsa2048: { key: { kind: 'rsa', bits: 2048 }, serialNumber: 'PNOEE-38001085718' },
  rsa4096: { key: { kind: 'rsa', bits: 4096 }, serialNumber: 'PNOEE-48010010101' },
  ecP256: { key: { kind: 'ec', curve: 'P-256' }, serialNumber: 'PNOEE-30303039914' },
  ecP384: { key: { kind: 'ec', curve: 'P-384' }, serialNumber: 'PNOEE-39912319997' },
} as const satisfies Record<string, { key: KeySpec; serialNumber: string }>;

export type AuthName = keyof typeof AUTH_KEYS;

export interface PemFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: IssuedCertificate;
  readonly caFile: string;
  readonly server: IssuedCertificate;
  readonly serverFiles: PemFiles;
  readonly clients: Readonly<Record<ClientName, IssuedCertificate>>;
  readonly untrustedCa: IssuedCertificate;
  /** Issued by untrustedCa: a well-formed certificate that no server configuration trusts. */
  readonly untrustedClient: IssuedCertificate;
  /** Issued by the trusted CA, but its validity ended yesterday. */
  readonly expiredClient: IssuedCertificate;
  /** The issuer of authentication certificates (a stand-in for "TEST of EID-SK 2016"). */
  readonly authCa: IssuedCertificate;
  readonly authCaFile: string;
  readonly auth: Readonly<Record<AuthName, IssuedCertificate>>;
  /** A signing certificate (nonRepudiation only) of the rsa2048 person: never a login. */
  readonly authSigning: IssuedCertificate;
  /** An authentication certificate of the rsa2048 person whose validity ended yesterday. */
  readonly authExpired: IssuedCertificate;
  /** An authentication certificate of the rsa2048 person from an issuer that no server trusts. */
  readonly authUntrusted: IssuedCertificate;
}

const DAY = 86_400_000;

export async function generateTestPki(dir = mkdtempSync(join(tmpdir(), 'cdoc2-test-pki-'))): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const organization = 'O=cdoc2-keyserver tests';
  const { ca, server } = await issueLocalServerPki({
    organization,
    caName: 'cdoc2 test CA',
    ipAddresses: ['127.0.0.1'],
  });
  const clientEntries = await Promise.all(
    (Object.entries(CLIENT_KEYS) as Array<[ClientName, KeySpec]>).map(
      async ([name, key]) =>
        [
          name,
          await issueCertificate({
            subject: `CN=Recipient ${name}, O=cdoc2-keyserver tests`,
            key,
            profile: 'client',
            issuer: ca,
          }),
        ] as const,
    ),
  );
  const untrustedCa = await issueEcP256('CN=untrusted CA, O=somebody else', 'ca');
  const untrustedClient = await issueEcP256('CN=Impostor, O=somebody else', 'client', { issuer: untrustedCa });
  const expiredClient = await issueEcP256(`CN=Expired Recipient, ${organization}`, 'client', {
    issuer: ca,
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });

  const authCa = await issueCertificate({
    subject: 'CN=cdoc2 test authentication CA, O=cdoc2-keyserver tests',
    key: { kind: 'ec', curve: 'P-384' },
    profile: 'ca',
  });
  const authCertificate = (
    serialNumber: string,
    key: KeySpec,
    options: { issuer?: IssuedCertificate; keyUsage?: KeyUsageFlags; notBefore?: Date; notAfter?: Date } = {},
  ) =>
    issueCertificate({
      subject: `2.5.4.5=${serialNumber}, CN="TESTNUMBER,OK", C=EE`,
      key,
      profile: 'client',
      issuer: options.issuer ?? authCa,
      keyUsage:
        options.keyUsage ??
        (key.kind === 'rsa'
          ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment | KeyUsageFlags.dataEncipherment
          : KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement),
      ...(options.notBefore ? { notBefore: options.notBefore } : {}),
      // A person's certificate ends when the authentication CA does, not a second later: the CA is made first, so
      // its default two years may end in an earlier second, and a test judges the chain at the leaf's last second.
      ...(options.notAfter || !options.issuer ? { notAfter: options.notAfter ?? authCa.certificate.notAfter } : {}),
    });
  const authEntries = await Promise.all(
    (Object.entries(AUTH_KEYS) as Array<[AuthName, { key: KeySpec; serialNumber: string }]>).map(
      async ([name, { key, serialNumber }]) => [name, await authCertificate(serialNumber, key)] as const,
    ),
  );
  const person = AUTH_KEYS.rsa2048.serialNumber;
  const authSigning = await authCertificate(
    person,
    { kind: 'rsa', bits: 2048 },
    { keyUsage: KeyUsageFlags.nonRepudiation },
  );
  const authExpired = await authCertificate(
    person,
    { kind: 'rsa', bits: 2048 },
    { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) },
  );
  const authUntrusted = await authCertificate(person, { kind: 'rsa', bits: 2048 }, { issuer: untrustedCa });

  const caFile = join(dir, 'ca.pem');
  const authCaFile = join(dir, 'auth-ca.pem');
  writeFileSync(authCaFile, authCa.certPem);
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, 'untrusted-ca.pem'), untrustedCa.certPem);
  const serverFiles = { cert: join(dir, 'server-cert.pem'), key: join(dir, 'server-key.pem') };
  writeFileSync(serverFiles.cert, server.certPem);
  writeFileSync(serverFiles.key, server.keyPem, { mode: 0o600 });
  return {
    dir,
    ca,
    caFile,
    server,
    serverFiles,
    clients: Object.fromEntries(clientEntries) as Record<ClientName, IssuedCertificate>,
    untrustedCa,
    untrustedClient,
    expiredClient,
    authCa,
    authCaFile,
    auth: Object.fromEntries(authEntries) as Record<AuthName, IssuedCertificate>,
    authSigning,
    authExpired,
    authUntrusted,
  };
}

let shared: Promise<TestPki> | undefined;

/** One PKI for the whole test run. */
export const getTestPki = (): Promise<TestPki> => (shared ??= generateTestPki());
