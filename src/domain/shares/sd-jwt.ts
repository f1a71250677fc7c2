import { createHash } from 'node:crypto';

/**
 * The selective-disclosure part of SD-JWT (RFC 9901), as the CDOC2 auth ticket uses it (README "The auth ticket"):
 * the compact form `<jwt>~<disclosure>~…~` without key binding, SHA-256 digests, object property disclosures
 * `[salt, name, value]` referenced from `_sd`, array element disclosures `[salt, value]` referenced as
 * `{"...": digest}`.
 *
 * Written here rather than taken from a library because the rules the server needs are stricter than a general
 * holder/verifier library enforces: every presented disclosure must be referenced exactly once (an extra one is
 * an attack, not noise), and names that would overwrite claims are refused. The signature is verified by jose
 * before any of this runs.
 */
export class SdJwtError extends Error {
  override readonly name = 'SdJwtError';
}

export interface SdJwtPresentation {
  readonly jwt: string;
  readonly disclosures: readonly string[];
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * True for canonical unpadded base64url: the alphabet only, a possible length, and no stray bits in the last
 * character. Node's decoder (which jose uses) is lenient (it accepts '+', '/', '=', spaces and skips junk), so
 * without this a ticket could be changed, byte for byte, and still verify.
 */
const isCanonicalBase64url = (text: string): boolean =>
  BASE64URL.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;

/** Splits `<jwt>~<d1>~…~<dn>~`. A key-binding JWT after the last `~` is not part of this protocol. */
export function splitPresentation(ticket: string): SdJwtPresentation {
  const parts = ticket.split('~');
  if (parts.length < 2 || parts[parts.length - 1] !== '') {
    throw new SdJwtError('the ticket is not an SD-JWT presentation (<jwt>~<disclosure>~…~)');
  }
  const [jwt, ...disclosures] = parts.slice(0, -1);
  const [header = '', payload = '', signature = '', ...rest] = jwt?.split('.') ?? [];
  // An empty signature is let through so that the verifier can say "alg none is not allowed".
  if (
    rest.length > 0 ||
    !isCanonicalBase64url(header) ||
    !isCanonicalBase64url(payload) ||
    (signature !== '' && !isCanonicalBase64url(signature))
  ) {
    throw new SdJwtError('the ticket is not a JWS of three canonical base64url segments');
  }
  if (!jwt || disclosures.some((disclosure) => !isCanonicalBase64url(disclosure))) {
    throw new SdJwtError('the ticket has an empty or malformed part');
  }
  return { jwt, disclosures };
}

/** Sets an own property, even one named `__proto__` (plain assignment would replace the object's prototype). */
const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
};

/** base64url(SHA-256(ASCII of the disclosure as presented)): digests are over the encoded text, not the JSON. */
export const disclosureDigest = (disclosure: string): string =>
  createHash('sha256').update(disclosure, 'ascii').digest('base64url');

type Disclosure =
  | { readonly kind: 'property'; readonly name: string; readonly value: unknown }
  | { readonly kind: 'element'; readonly value: unknown };

function decodeDisclosure(text: string): Disclosure {
  let parsed: unknown;
  try {
    // JSON.parse, never string comparison: the Java library escapes characters such as '=' as \u003d.
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new SdJwtError('a disclosure is not base64url-encoded JSON');
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') {
    throw new SdJwtError('a disclosure is not an array starting with a salt');
  }
  if (parsed.length === 3 && typeof parsed[1] === 'string') {
    if (parsed[1] === '_sd' || parsed[1] === '...') {
      throw new SdJwtError('a disclosure uses a reserved claim name');
    }
    return { kind: 'property', name: parsed[1], value: parsed[2] as unknown };
  }
  if (parsed.length === 2) {
    return { kind: 'element', value: parsed[1] as unknown };
  }
  throw new SdJwtError('a disclosure has the wrong number of elements');
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Replaces digests in `payload` by the values of the presented disclosures, drops undisclosed ones (and
 * `_sd`, `_sd_alg`), and insists that every disclosure was used exactly once.
 */
export function disclose(payload: Record<string, unknown>, disclosures: readonly string[]): Record<string, unknown> {
  const alg = payload['_sd_alg'] ?? 'sha-256';
  if (alg !== 'sha-256') {
    throw new SdJwtError('the ticket uses a digest algorithm other than sha-256');
  }
  const byDigest = new Map<string, Disclosure>();
  for (const text of disclosures) {
    const digest = disclosureDigest(text);
    if (byDigest.has(digest)) {
      throw new SdJwtError('a disclosure is presented twice');
    }
    byDigest.set(digest, decodeDisclosure(text));
  }
  const used = new Set<string>();
  const take = (digest: unknown, kind: Disclosure['kind']): Disclosure | undefined => {
    if (typeof digest !== 'string') {
      throw new SdJwtError('a digest is not a string');
    }
    const disclosure = byDigest.get(digest);
    if (!disclosure) {
      return undefined; // undisclosed (or a decoy)
    }
    if (used.has(digest)) {
      throw new SdJwtError('a digest is referenced twice');
    }
    if (disclosure.kind !== kind) {
      throw new SdJwtError('a disclosure is used in the wrong place');
    }
    used.add(digest);
    return disclosure;
  };

  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      const result: unknown[] = [];
      for (const element of value) {
        if (isPlainObject(element) && '...' in element) {
          if (Object.keys(element).length !== 1) {
            throw new SdJwtError('an array element digest has extra members');
          }
          const disclosure = take(element['...'], 'element');
          if (disclosure) {
            result.push(visit(disclosure.value));
          }
        } else {
          result.push(visit(element));
        }
      }
      return result;
    }
    if (!isPlainObject(value)) {
      return value;
    }
    const result: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      if (key !== '_sd' && key !== '_sd_alg') {
        setOwn(result, key, visit(member));
      }
    }
    const digests = value['_sd'];
    if (digests !== undefined) {
      if (!Array.isArray(digests)) {
        throw new SdJwtError('_sd is not an array');
      }
      for (const digest of digests) {
        const disclosure = take(digest, 'property');
        if (disclosure && disclosure.kind === 'property') {
          if (Object.hasOwn(result, disclosure.name)) {
            throw new SdJwtError(`a disclosure would overwrite the claim ${disclosure.name}`);
          }
          setOwn(result, disclosure.name, visit(disclosure.value));
        }
      }
    }
    return result;
  };

  const disclosed = visit(payload) as Record<string, unknown>;
  if (used.size !== byDigest.size) {
    throw new SdJwtError('a presented disclosure is not referenced by the ticket');
  }
  return disclosed;
}
