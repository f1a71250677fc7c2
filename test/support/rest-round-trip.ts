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

/** Stores a random key share over REST, then asks for a nonce for it. */
export async function restShareAndNonce(
  pki: TestPki,
  port: number,
): Promise<{ created: HttpResponse; nonce: HttpResponse }> {
  const created = await https(pki, {
    port,
    method: 'POST',
    path: '/key-shares',
    headers: JSON_HEADERS,
    body: JSON.stringify({ share: randomBytes(32).toString('base64'), recipient: 'etsi/PNOEE-38001085718' }),
  });
  const nonce = await https(pki, { port, method: 'POST', path: `${String(created.headers['location'])}/nonce` });
  return { created, nonce };
}
