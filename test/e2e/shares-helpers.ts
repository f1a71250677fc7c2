// @peculiar/x509 (here and in test-pki.ts) needs the reflect polyfill loaded before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { KeyUsageFlags } from '@peculiar/x509';
import { configSchema } from '../../src/config/config-schema.js';
import { issueCertificate, type IssuedCertificate } from '../../src/pki/certificates.js';
import type { TestPki } from '../support/test-pki.js';
import {
  createAuthTicket,
  digestOf,
  makeDisclosure,
  oneLinePem,
  serialNumberOf,
  type AuthTicket,
  type TicketOptions,
} from '../support/auth-ticket-builder.js';
import { TEST_SHARES_BASE_URL, type TestServer } from '../support/test-server.js';
import { fetchShare, newNonce, storeShare, type ShareDriver } from '../support/share-drivers.js';
import type { Refusal } from '../support/transport-outcome.js';

/**
 * Shared pieces of the shares-server (CSS) end-to-end suites: issuing a share with a nonce over any transport's
 * driver (test/support/share-drivers.ts), and the table of tickets the server must refuse, run over every transport
 * by shares.test.ts.
 */

/** The nonce lifetime, the bound on live nonces per share and the default expiry the tests' servers run with. */
export const {
  nonceTtl: NONCE_TTL_MS,
  maxNoncesPerShare: MAX_LIVE_NONCES,
  expiry: { default: SHARES_EXPIRY_DEFAULT_MS },
} = configSchema.parse({}).shares;

/** What the test PKI's authentication certificate authenticates: `etsi/` + its subject serialNumber. */
export const recipientOf = (certificate: IssuedCertificate): string => `etsi/${serialNumberOf(certificate)}`;

/** `<base>/key-shares/<shareId>?nonce=<nonce>`: the URL a ticket names for one server. */
export const ticketUrl = (shareId: string, nonce: string, base = TEST_SHARES_BASE_URL): string =>
  `${base}/key-shares/${shareId}?nonce=${nonce}`;

/** A share id of the server's form (32 lowercase hex characters) that no server has issued. */
export const unknownShareId = (): string => randomBytes(16).toString('hex');

/** A stored share with one live nonce, and the URL a ticket for it names. */
export interface IssuedShare {
  readonly shareId: string;
  readonly nonce: string;
  readonly share: Buffer;
  readonly recipient: string;
  readonly url: string;
}

export async function issueShare(
  driver: ShareDriver,
  recipient: string,
  options: { bytes?: number; base?: string } = {},
): Promise<IssuedShare> {
  const share = randomBytes(options.bytes ?? 32);
  const shareId = await storeShare(driver, share, recipient);
  const nonce = await newNonce(driver, shareId);
  return { shareId, nonce, share, recipient, url: ticketUrl(shareId, nonce, options.base) };
}

/** The forms of a share (and its owner) that must never appear in an error answer. */
export const secretsOf = (issued: { share: Buffer; recipient: string }): string[] => [
  issued.share.toString('base64'),
  issued.share.toString('base64url'),
  issued.share.toString('hex'),
  issued.recipient,
];

/** The JWT's payload with `change` applied, re-encoded: the signature no longer covers it. */
export function withPayload(jwt: string, change: (payload: Record<string, unknown>) => void): string {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

/** A disclosure re-encoded after `change` (its digest is no longer the one the ticket references). */
export function withDisclosure(disclosure: string, change: (elements: unknown[]) => unknown[]): string {
  return makeDisclosure(change(JSON.parse(Buffer.from(disclosure, 'base64url').toString('utf8')) as unknown[]));
}

/** `<jwt>~<d1>~…~<dn>~` from parts chosen by the test. */
export const presentation = (jwt: string, disclosures: readonly string[]): string =>
  `${jwt}~${disclosures.map((disclosure) => `${disclosure}~`).join('')}`;

/** One GET the server must refuse. */
export interface Attempt {
  readonly shareId: string;
  readonly ticket: string;
  readonly x5c: string;
  /** Strings (share bytes in every encoding, the stored recipient) that the answer must not contain. */
  readonly secrets: readonly string[];
  /** Undoes what the preparation changed (the clock). */
  readonly restore?: () => void;
}

export interface CaseContext {
  readonly server: TestServer;
  readonly driver: ShareDriver;
}

export interface RefusalCase {
  /** Completes "refuses …". */
  readonly name: string;
  /** How the server must refuse: a row of the one error table, the same on both transports. */
  readonly refusal: Refusal;
  /** The reason the answer gives (the same text on both transports, but for schema checks). */
  readonly detail: RegExp;
  prepare(context: CaseContext): Promise<Attempt>;
}

const dualUse = new WeakMap<TestPki, Promise<IssuedCertificate>>();

/**
 * An authentication-CA certificate of the rsa2048 person whose key usage has digitalSignature and nonRepudiation:
 * step 1 must still refuse it (the test PKI's own signing certificate has nonRepudiation only).
 */
export function dualUseCertificate(pki: TestPki): Promise<IssuedCertificate> {
  let certificate = dualUse.get(pki);
  if (!certificate) {
    certificate = issueCertificate({
      subject: `2.5.4.5=${serialNumberOf(pki.auth.rsa2048)}, CN="TESTNUMBER,OK", C=EE`,
      key: { kind: 'ec', curve: 'P-256' },
      profile: 'client',
      issuer: pki.authCa,
      keyUsage: KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation,
    });
    dualUse.set(pki, certificate);
  }
  return certificate;
}

/** The default signer of the refusal cases: an RS256 Smart-ID-like authentication certificate. */
const signerOf = ({ server }: CaseContext): IssuedCertificate => server.pki.auth.rsa2048;

/** A share for the default signer's person, and a ticket built with `options` for it. */
async function ticketCase(
  context: CaseContext,
  options: Partial<TicketOptions> & { signer?: IssuedCertificate } = {},
  transform: (ticket: AuthTicket, issued: IssuedShare) => string | Promise<string> = (ticket) =>
    ticket.presentationFor(0),
): Promise<Attempt> {
  const person = signerOf(context);
  const issued = await issueShare(context.driver, recipientOf(person));
  const signer = options.signer ?? person;
  const ticket = createAuthTicket({ urls: [issued.url], ...options, signer });
  return {
    shareId: issued.shareId,
    ticket: await transform(ticket, issued),
    x5c: oneLinePem(signer),
    secrets: secretsOf(issued),
  };
}

/**
 * Every way a GET for a share must fail, each with exactly one thing wrong. The 404 cases must also read exactly
 * like the 404 of an unknown share; the suites check that.
 */
export const REFUSAL_CASES: readonly RefusalCase[] = [
  {
    name: 'a ticket with alg none (and no signature)',
    refusal: 'unauthenticated',
    detail: /alg none is not allowed/,
    prepare: (context) => ticketCase(context, { alg: 'none' }),
  },
  {
    name: 'a ticket signed HS256 with the certificate as the HMAC key',
    refusal: 'unauthenticated',
    detail: /alg HS256 is not allowed/,
    prepare: (context) => ticketCase(context, { alg: 'HS256' }),
  },
  {
    name: 'a ticket whose alg the key does not allow (ES256 header on an RSA signature)',
    refusal: 'unauthenticated',
    detail: /alg ES256 is not allowed/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket) => {
        const [, payload = '', signature = ''] = ticket.jwt.split('.');
        const header = Buffer.from(JSON.stringify({ typ: 'vnd.cdoc2.auth-token.v1+sd-jwt', alg: 'ES256' }));
        return presentation(`${header.toString('base64url')}.${payload}.${signature}`, [
          ticket.audDisclosure,
          ticket.urlDisclosures[0] ?? '',
        ]);
      }),
  },
  {
    name: 'a ticket with typ JWT',
    refusal: 'unauthenticated',
    detail: /typ must be/,
    prepare: (context) => ticketCase(context, { typ: 'JWT' }),
  },
  {
    name: 'a ticket with a typ that differs only in case',
    refusal: 'unauthenticated',
    detail: /typ must be/,
    prepare: (context) => ticketCase(context, { typ: 'VND.CDOC2.AUTH-TOKEN.V1+SD-JWT' }),
  },
  {
    name: 'a ticket whose payload was changed after signing (aud swapped for another one)',
    refusal: 'unauthenticated',
    detail: /signature does not verify/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket, issued) => {
        // The attacker's own aud disclosure, naming the same URL: consistent in every way but the signature.
        const element = makeDisclosure([randomBytes(16).toString('base64url'), issued.url]);
        const aud = makeDisclosure([randomBytes(16).toString('base64url'), 'aud', [{ '...': digestOf(element) }]]);
        const jwt = withPayload(ticket.jwt, (payload) => {
          payload['_sd'] = [digestOf(aud)];
        });
        return presentation(jwt, [aud, element]);
      }),
  },
  {
    name: 'a ticket whose payload gained a claim after signing',
    refusal: 'unauthenticated',
    detail: /signature does not verify/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket) =>
        presentation(
          withPayload(ticket.jwt, (payload) => {
            payload['exp'] = 4_102_444_800;
          }),
          [ticket.audDisclosure, ticket.urlDisclosures[0] ?? ''],
        ),
      ),
  },
  {
    name: 'a ticket whose URL disclosure was changed (to name another live nonce of the same share)',
    refusal: 'unauthenticated',
    detail: /disclosure is not referenced/,
    prepare: (context) =>
      ticketCase(context, {}, async (ticket, issued) => {
        // The replacement names a live nonce, so that only its digest can give it away.
        const other = await newNonce(context.driver, issued.shareId);
        return presentation(ticket.jwt, [ticket.audDisclosure, replaceNonce(ticket.urlDisclosures[0] ?? '', other)]);
      }),
  },
  {
    name: 'a ticket whose aud disclosure was changed (a digest added)',
    refusal: 'unauthenticated',
    detail: /disclosure is not referenced/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket) => {
        const aud = withDisclosure(ticket.audDisclosure, ([salt, name, elements]) => [
          salt,
          name,
          [...(elements as unknown[]), { '...': digestOf(makeDisclosure(['salt', 'https://evil.test'])) }],
        ]);
        return presentation(ticket.jwt, [aud, ticket.urlDisclosures[0] ?? '']);
      }),
  },
  {
    name: 'a ticket with an extra disclosure that nothing references',
    refusal: 'unauthenticated',
    detail: /disclosure is not referenced/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket) =>
        presentation(ticket.jwt, [
          ticket.audDisclosure,
          ticket.urlDisclosures[0] ?? '',
          makeDisclosure([randomBytes(16).toString('base64url'), 'role', 'admin']),
        ]),
      ),
  },
  {
    name: 'a ticket that presents its URL disclosure twice',
    refusal: 'unauthenticated',
    detail: /presented twice/,
    prepare: (context) =>
      ticketCase(context, {}, (ticket) =>
        presentation(ticket.jwt, [
          ticket.audDisclosure,
          ticket.urlDisclosures[0] ?? '',
          ticket.urlDisclosures[0] ?? '',
        ]),
      ),
  },
  {
    name: 'a ticket whose aud is a plain signed claim instead of a disclosure',
    refusal: 'unauthenticated',
    detail: /aud must be selectively disclosed/,
    prepare: (context) =>
      ticketCase(context, {}, (_ticket, issued) => {
        const extraClaims = { aud: [issued.url], _sd: [] };
        return presentation(createAuthTicket({ signer: signerOf(context), urls: [], extraClaims }).jwt, []);
      }),
  },
  {
    name: 'a ticket that declares a digest algorithm other than sha-256',
    refusal: 'unauthenticated',
    detail: /sha-256/,
    prepare: (context) => ticketCase(context, { extraClaims: { _sd_alg: 'sha-512' } }),
  },
  {
    name: 'a ticket that discloses two aud URLs (both for this server and share)',
    refusal: 'unauthenticated',
    detail: /exactly one aud URL/,
    prepare: (context) =>
      ticketCase(context, {}, async (_ticket, issued) => {
        const second = ticketUrl(issued.shareId, await newNonce(context.driver, issued.shareId));
        const ticket = createAuthTicket({ signer: signerOf(context), urls: [issued.url, second] });
        return presentation(ticket.jwt, [ticket.audDisclosure, ...ticket.urlDisclosures]);
      }),
  },
  {
    name: 'a ticket that discloses no aud URL',
    refusal: 'unauthenticated',
    detail: /exactly one aud URL/,
    prepare: (context) => ticketCase(context, {}, (ticket) => presentation(ticket.jwt, [ticket.audDisclosure])),
  },
  {
    name: "a ticket whose aud names another server's base URL",
    refusal: 'unauthenticated',
    detail: /for another server/,
    prepare: (context) =>
      ticketCase(context, {}, (_ticket, issued) => {
        const ticket = createAuthTicket({
          signer: signerOf(context),
          urls: [ticketUrl(issued.shareId, issued.nonce, 'https://css-other.test')],
        });
        return ticket.presentationFor(0);
      }),
  },
  {
    name: 'a ticket whose aud names this host on another port',
    refusal: 'unauthenticated',
    detail: /for another server/,
    prepare: (context) =>
      ticketCase(context, {}, (_ticket, issued) =>
        createAuthTicket({
          signer: signerOf(context),
          urls: [ticketUrl(issued.shareId, issued.nonce, `${TEST_SHARES_BASE_URL}:8443`)],
        }).presentationFor(0),
      ),
  },
  {
    name: 'a ticket whose aud names this host over plain http',
    refusal: 'unauthenticated',
    detail: /not a plain https URL/,
    prepare: (context) =>
      ticketCase(context, {}, (_ticket, issued) =>
        createAuthTicket({
          signer: signerOf(context),
          urls: [ticketUrl(issued.shareId, issued.nonce, TEST_SHARES_BASE_URL.replace('https:', 'http:'))],
        }).presentationFor(0),
      ),
  },
  {
    name: 'a ticket for share A presented to GET share B (both of the same person)',
    refusal: 'unauthenticated',
    detail: /for another key share/,
    prepare: async (context) => {
      const attempt = await ticketCase(context);
      const other = await issueShare(context.driver, recipientOf(signerOf(context)));
      return { ...attempt, shareId: other.shareId, secrets: [...attempt.secrets, ...secretsOf(other)] };
    },
  },
  {
    name: 'a ticket naming a nonce that was issued for another share',
    refusal: 'not-found',
    detail: /^key share not found$/,
    prepare: async (context) => {
      const other = await issueShare(context.driver, recipientOf(signerOf(context)));
      const attempt = await ticketCase(context, {}, (_ticket, issued) =>
        createAuthTicket({ signer: signerOf(context), urls: [ticketUrl(issued.shareId, other.nonce)] }).presentationFor(
          0,
        ),
      );
      return { ...attempt, secrets: [...attempt.secrets, ...secretsOf(other)] };
    },
  },
  {
    name: 'a ticket naming a nonce this server never issued',
    refusal: 'not-found',
    detail: /^key share not found$/,
    prepare: (context) =>
      ticketCase(context, {}, (_ticket, issued) =>
        createAuthTicket({
          signer: signerOf(context),
          urls: [ticketUrl(issued.shareId, randomBytes(12).toString('base64url'))],
        }).presentationFor(0),
      ),
  },
  {
    name: 'a ticket replayed after it was used (the nonce is spent)',
    refusal: 'not-found',
    detail: /^key share not found$/,
    prepare: async (context) => {
      const attempt = await ticketCase(context);
      const first = await fetchShare(context.driver, attempt.shareId, attempt.ticket, attempt.x5c);
      expect(first.recipient).to.equal(recipientOf(signerOf(context)));
      return attempt;
    },
  },
  {
    name: 'a ticket whose nonce is older than the nonce lifetime',
    refusal: 'not-found',
    detail: /^key share not found$/,
    prepare: async (context) => {
      const attempt = await ticketCase(context);
      context.server.clock.advance(NONCE_TTL_MS + 1);
      return { ...attempt, restore: () => context.server.clock.advance(-(NONCE_TTL_MS + 1)) };
    },
  },
  {
    name: "a ticket whose iss names another person than the certificate's serialNumber",
    refusal: 'unauthenticated',
    detail: /iss does not match/,
    prepare: (context) => ticketCase(context, { iss: recipientOf(context.server.pki.auth.rsa4096) }),
  },
  {
    name: 'a ticket whose iss is the bare serialNumber without etsi/',
    refusal: 'unauthenticated',
    detail: /iss does not match/,
    prepare: (context) => ticketCase(context, { iss: serialNumberOf(signerOf(context)) }),
  },
  {
    name: 'a valid ticket of another person for a share stored for someone else',
    refusal: 'not-found',
    detail: /^key share not found$/,
    prepare: async (context) => {
      const owner = context.server.pki.auth.rsa4096;
      const intruder = signerOf(context);
      const issued = await issueShare(context.driver, recipientOf(owner));
      const ticket = createAuthTicket({ signer: intruder, urls: [issued.url] });
      return {
        shareId: issued.shareId,
        ticket: ticket.presentationFor(0),
        x5c: oneLinePem(intruder),
        secrets: secretsOf(issued),
      };
    },
  },
  {
    name: "a ticket signed by one person presented with another trusted person's certificate",
    refusal: 'unauthenticated',
    detail: /signature does not verify/,
    prepare: async (context) => {
      const attempt = await ticketCase(context, { iss: recipientOf(context.server.pki.auth.rsa4096) });
      return { ...attempt, x5c: oneLinePem(context.server.pki.auth.rsa4096) };
    },
  },
  {
    name: 'a certificate from an issuer that is not trusted',
    refusal: 'unauthenticated',
    detail: /not issued by a trusted issuer/,
    prepare: (context) => ticketCase(context, { signer: context.server.pki.authUntrusted }),
  },
  {
    name: 'an expired certificate',
    refusal: 'unauthenticated',
    detail: /expired/,
    prepare: (context) => ticketCase(context, { signer: context.server.pki.authExpired }),
  },
  {
    name: 'a signing (nonRepudiation) certificate',
    refusal: 'unauthenticated',
    detail: /digitalSignature/,
    prepare: (context) => ticketCase(context, { signer: context.server.pki.authSigning }),
  },
  {
    name: 'a certificate that allows digitalSignature but also nonRepudiation (a signing certificate)',
    refusal: 'unauthenticated',
    detail: /nonRepudiation/,
    prepare: async (context) => ticketCase(context, { signer: await dualUseCertificate(context.server.pki) }),
  },
  {
    name: 'a TLS client certificate (not an authentication certificate: no serialNumber)',
    refusal: 'unauthenticated',
    detail: /serialNumber/,
    prepare: (context) => ticketCase(context, { signer: context.server.pki.clients.ecP256, iss: 'etsi/PNOEE-1' }),
  },
  {
    name: 'an empty ticket',
    refusal: 'bad-request',
    detail: /ticket is missing/,
    prepare: async (context) => ({ ...(await ticketCase(context)), ticket: '' }),
  },
  {
    name: 'an empty certificate',
    refusal: 'bad-request',
    detail: /\(x5c\) is missing/,
    prepare: async (context) => ({ ...(await ticketCase(context)), x5c: '' }),
  },
  {
    name: 'a garbage certificate',
    refusal: 'unauthenticated',
    detail: /neither PEM nor base64url DER/,
    prepare: async (context) => ({ ...(await ticketCase(context)), x5c: 'not a certificate at all' }),
  },
  {
    name: 'a certificate that is base64url but not DER',
    refusal: 'unauthenticated',
    detail: /does not parse/,
    prepare: async (context) => ({ ...(await ticketCase(context)), x5c: randomBytes(300).toString('base64url') }),
  },
  {
    name: 'a garbage ticket',
    refusal: 'unauthenticated',
    detail: /not a JWS/,
    prepare: async (context) => ({ ...(await ticketCase(context)), ticket: 'garbage~' }),
  },
  {
    name: 'a bare JWT without the trailing ~',
    refusal: 'unauthenticated',
    detail: /not an SD-JWT presentation/,
    prepare: async (context) => {
      const attempt = await ticketCase(context);
      return { ...attempt, ticket: attempt.ticket.split('~')[0] ?? '' };
    },
  },
  {
    name: 'a share id of 17 characters',
    refusal: 'bad-request',
    detail: /share ?id/i,
    prepare: async (context) => ({ ...(await ticketCase(context)), shareId: 'f'.repeat(17) }),
  },
  {
    name: 'a share id of 35 characters',
    refusal: 'bad-request',
    detail: /share ?id/i,
    prepare: async (context) => ({ ...(await ticketCase(context)), shareId: 'f'.repeat(35) }),
  },
];

/** The nonce parameter of a URL disclosure replaced, keeping the salt. */
function replaceNonce(disclosure: string, nonce: string): string {
  return withDisclosure(disclosure, ([salt, url]) => [salt, String(url).replace(/nonce=.*$/, `nonce=${nonce}`)]);
}

/** Exactly one character of `text` at `index` replaced by another base64url character. */
export const changeCharacter = (text: string, index: number): string => {
  const current = text[index];
  const replacement = current === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
};
