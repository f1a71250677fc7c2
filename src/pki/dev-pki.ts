// @peculiar/x509 needs the Reflect polyfill before it loads.
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyUsageFlags } from '@peculiar/x509';
import {
  issueCertificate,
  type CertificateProfile,
  type IssuedCertificate,
  type IssueOptions,
} from './certificates.js';

/**
 * The development PKI of the zero-configuration start (README "Configuration", development mode): a self-signed CA, a
 * server certificate for localhost, one recipient client certificate (EC P-256) for the printed `curl` example,
 * and, for the shares server, a separate authentication CA (the development server trusts it, as a real one trusts
 * "EID-SK") with one Smart-ID-like authentication certificate and key (RSA, subject serialNumber PNOEE-…, key usage
 * digitalSignature without nonRepudiation) that the printed `cdoc2-client share get` signs with. For development
 * only: the CAs' private keys sit next to them so that more certificates can be issued, which is exactly what a
 * production CA must never allow.
 */
export const DEV_PKI_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
  clientCert: 'client-cert.pem',
  clientKey: 'client-key.pem',
  authCa: 'auth-ca.pem',
  authCaKey: 'auth-ca-key.pem',
  authCert: 'auth-cert.pem',
  authKey: 'auth-key.pem',
} as const;

/** The person of the development authentication certificate: a test identity code, never a real one. */
export const DEV_AUTH_SERIAL_NUMBER = 'PNOEE-38001085718';

export type DevPkiPaths = { readonly [K in keyof typeof DEV_PKI_FILES]: string };

export const devPkiPaths = (dir: string): DevPkiPaths =>
  Object.fromEntries(Object.entries(DEV_PKI_FILES).map(([key, file]) => [key, join(dir, file)])) as DevPkiPaths;

const isUsable = (paths: DevPkiPaths): boolean => {
  if (!Object.values(paths).every((path) => existsSync(path))) {
    return false;
  }
  // Regenerate when any certificate is about to expire, so that a long-lived checkout keeps starting.
  const soon = Date.now() + 86_400_000;
  return [paths.ca, paths.serverCert, paths.clientCert, paths.authCa, paths.authCert].every(
    (path) => new Date(new X509Certificate(readFileSync(path)).validTo).getTime() > soon,
  );
};

/** An EC P-256 certificate: the key of every certificate of a local PKI that does not stand for a person. */
export const issueEcP256 = (
  subject: string,
  profile: CertificateProfile,
  options: Omit<IssueOptions, 'subject' | 'key' | 'profile'> = {},
): Promise<IssuedCertificate> =>
  issueCertificate({ subject, key: { kind: 'ec', curve: 'P-256' }, profile, ...options });

/**
 * A self-signed CA and, under it, the server certificate for localhost (and the loopback addresses given): how
 * the development PKI starts, and the tests' PKI (test/support/test-pki.ts) too.
 */
export async function issueLocalServerPki(options: {
  /** The `O=…` part of both subjects. */
  readonly organization: string;
  readonly caName: string;
  readonly ipAddresses: readonly string[];
  readonly pathLength?: number;
}): Promise<{ ca: IssuedCertificate; server: IssuedCertificate }> {
  const { organization, caName, ipAddresses, pathLength } = options;
  const ca = await issueEcP256(`CN=${caName}, ${organization}`, 'ca', pathLength === undefined ? {} : { pathLength });
  const server = await issueEcP256(`CN=localhost, ${organization}`, 'server', {
    issuer: ca,
    dnsNames: ['localhost'],
    ipAddresses,
  });
  return { ca, server };
}

/** Creates the development PKI in `dir` unless a usable one is there; returns its file paths and whether it was made. */
export async function ensureDevPki(dir: string): Promise<{ paths: DevPkiPaths; created: boolean }> {
  const paths = devPkiPaths(dir);
  if (isUsable(paths)) {
    return { paths, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const organization = 'O=cdoc2-keyserver (development only)';
  const { ca, server } = await issueLocalServerPki({
    organization,
    caName: 'cdoc2-keyserver development CA',
    ipAddresses: ['127.0.0.1', '::1'],
    pathLength: 0,
  });
  const client = await issueEcP256(`CN=Development Recipient, ${organization}`, 'client', { issuer: ca });
  const authCa = await issueEcP256(`CN=cdoc2-keyserver development authentication CA, ${organization}`, 'ca', {
    pathLength: 0,
  });
  const auth = await issueCertificate({
    subject: `2.5.4.5=${DEV_AUTH_SERIAL_NUMBER}, CN="TESTNUMBER,OK", C=EE`,
    // RSA, as Smart-ID's authentication keys are: the ticket is then RS256, as in production.
    key: { kind: 'rsa', bits: 2048 },
    profile: 'client',
    issuer: authCa,
    keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment | KeyUsageFlags.dataEncipherment,
  });
  const write = (path: string, text: string, secret: boolean): void =>
    writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 });
  write(paths.ca, ca.certPem, false);
  write(paths.caKey, ca.keyPem, true);
  write(paths.serverCert, server.certPem, false);
  write(paths.serverKey, server.keyPem, true);
  write(paths.clientCert, client.certPem, false);
  write(paths.clientKey, client.keyPem, true);
  write(paths.authCa, authCa.certPem, false);
  write(paths.authCaKey, authCa.keyPem, true);
  write(paths.authCert, auth.certPem, false);
  write(paths.authKey, auth.keyPem, true);
  return { paths, created: true };
}
