import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KeyUsageFlags } from '@peculiar/x509';
import { expect } from 'chai';
import type { DomainError } from '../../src/domain/errors.js';
import { domainRejection } from '../support/rejections.js';
import { parseBaseUrl, type BaseUrl } from '../../src/domain/shares/ticket-url.js';
import { issueCertificate, type IssuedCertificate, type KeySpec } from '../../src/pki/certificates.js';

/** Awaits a promise that must reject with an `unauthenticated` DomainError whose message matches `reason`. */
export async function expectUnauthenticated(promise: Promise<unknown>, reason?: RegExp): Promise<DomainError> {
  const error = await domainRejection(promise);
  expect(error.code, error.message).to.equal('unauthenticated');
  if (reason) {
    expect(error.message).to.match(reason);
  }
  return error;
}

/** Calls `action`, which must throw an instance of `type`; returns the error. */
export function thrown<T extends Error>(type: abstract new (...args: never[]) => T, action: () => unknown): T {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    return error as T;
  }
  throw new Error(`expected ${type.name}, but the call returned`);
}

/** A base URL that must parse (test set-up, not an assertion). */
export function baseUrl(text: string): BaseUrl {
  const parsed = parseBaseUrl(text);
  if ('error' in parsed) {
    throw new Error(`test set-up: ${parsed.error}`);
  }
  return parsed;
}

/** base64url of the JSON text, as a disclosure or a JWS part is written. */
export const encodeJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The JSON inside a base64url part. */
export const decodeJson = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * Replaces the character at `index` by a different base64url character: 'A' becomes 'B', everything else
 * (including the separators '.' and '~') becomes 'A'.
 */
export function mutateAt(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

/** The public Smart-ID demo vector (its README names the public source). */
export const VECTOR_DIR = resolve(__dirname, '../fixtures/smartid-demo-ticket');

export interface Vector {
  readonly ticket: string;
  /** The signer certificate PEM as stored (multi-line). */
  readonly certPem: string;
  readonly issuerChainPem: string;
  readonly shareId: string;
  readonly nonce: string;
  readonly recipient: string;
  readonly url: string;
}

export function loadVector(): Vector {
  const read = (name: string): string => readFileSync(join(VECTOR_DIR, name), 'utf8');
  return {
    ticket: read('ticket.txt').trim(),
    certPem: read('signer-cert.pem'),
    issuerChainPem: read('issuer-chain.pem'),
    shareId: 'ff0102030405060708090a0b0c0e0dff',
    nonce: 'AAECAwQFBgcICQoLDA4N_w',
    recipient: 'etsi/PNOEE-30303039914',
    url: 'https://localhost:8443/key-shares/ff0102030405060708090a0b0c0e0dff?nonce=AAECAwQFBgcICQoLDA4N_w',
  };
}

/** An authentication certificate with exactly the properties a test needs, issued by `issuer` (EC P-256 by default). */
export function issueAuthCertificate(
  issuer: IssuedCertificate,
  options: {
    serialNumbers?: readonly string[];
    keyUsage?: KeyUsageFlags;
    key?: KeySpec;
    notBefore?: Date;
    notAfter?: Date;
  } = {},
): Promise<IssuedCertificate> {
  const serialNumbers = options.serialNumbers ?? ['PNOEE-30303039914'];
  return issueCertificate({
    subject: [...serialNumbers.map((serial) => `2.5.4.5=${serial}`), 'CN="TESTNUMBER,OK"', 'C=EE'].join(', '),
    key: options.key ?? { kind: 'ec', curve: 'P-256' },
    profile: 'client',
    issuer,
    keyUsage: options.keyUsage ?? KeyUsageFlags.digitalSignature,
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  });
}

/**
 * Two authentication certificates from `authCa` that a ticket signer must not use: one whose key usage adds
 * nonRepudiation (a signing certificate), and one whose subject names two persons (two serialNumbers).
 */
export async function refusedAuthCertificates(
  authCa: IssuedCertificate,
): Promise<{ dualUsage: IssuedCertificate; twoSerialNumbers: IssuedCertificate }> {
  return {
    dualUsage: await issueAuthCertificate(authCa, {
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation,
    }),
    twoSerialNumbers: await issueAuthCertificate(authCa, { serialNumbers: ['PNOEE-30303039914', 'PNOEE-48010010101'] }),
  };
}
