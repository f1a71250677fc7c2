import { randomBytes } from 'node:crypto';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { capsuleFor, capsuleJson, type TestCapsule } from './capsule-fixtures.js';
import type { TestPki } from './test-pki.js';
import { https, type HttpResponse } from './test-server.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** POSTs `capsule` as JSON to the REST sender listener on `port`, as a sender does (no client certificate). */
export const restCreateCapsule = (pki: TestPki, port: number, capsule: TestCapsule): Promise<HttpResponse> =>
  https(pki, { port, method: 'POST', path: '/key-capsules', headers: JSON_HEADERS, body: capsuleJson(capsule) });

/** Stores a capsule for `client` on the REST sender port, then fetches it with that client's certificate. */
export async function restCapsuleRoundTrip(
  pki: TestPki,
  ports: { restSender: number; restRecipient: number },
  client: IssuedCertificate,
): Promise<{ stored: string; created: HttpResponse; fetched: HttpResponse }> {
  const capsule = capsuleFor(client);
  const stored = capsuleJson(capsule);
  const created = await restCreateCapsule(pki, ports.restSender, capsule);
  const fetched = await https(pki, {
    port: ports.restRecipient,
    method: 'GET',
    path: String(created.headers['location']),
    client,
  });
  return { stored, created, fetched };
}

/** POSTs a key share as JSON to the REST shares listener on `port`, as a sender does (extra headers added). */
export const restCreateShare = (
  pki: TestPki,
  port: number,
  share: Uint8Array,
  recipient: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> =>
  https(pki, {
    port,
    method: 'POST',
    path: '/key-shares',
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ share: Buffer.from(share).toString('base64'), recipient }),
  });

/** Stores a random key share over REST, then asks for a nonce for it. */
export async function restShareAndNonce(
  pki: TestPki,
  port: number,
): Promise<{ created: HttpResponse; nonce: HttpResponse }> {
  const created = await restCreateShare(pki, port, randomBytes(32), 'etsi/PNOEE-38001085718');
  const nonce = await https(pki, { port, method: 'POST', path: `${String(created.headers['location'])}/nonce` });
  return { created, nonce };
}
