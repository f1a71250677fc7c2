/**
 * The server URLs an auth ticket may name (README "The auth ticket", and "What the shares server verifies" step 6):
 * `<serverBaseUrl>/key-shares/<shareId>?nonce=<nonce>`. The base (scheme, host, port, base path) must be one of
 * this server's configured public base URLs; it is never derived from request headers such as X-Forwarded-Host.
 *
 * WHATWG URL parsing normalises what must compare equal: host case, the default port 443 (written or not),
 * IDN and percent-encoding of the host.
 */
export interface BaseUrl {
  /** `https://host[:port]`, normalised. */
  readonly origin: string;
  /** The base path without a trailing slash; '' for the root. */
  readonly path: string;
  /** As configured, for messages. */
  readonly text: string;
}

/** Parses a configured base URL; returns a reason when it cannot serve as one. */
export function parseBaseUrl(text: string): BaseUrl | { error: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: `"${text}" is not a URL` };
  }
  if (url.protocol !== 'https:') {
    return { error: `"${text}" must be an https URL` };
  }
  if (url.username || url.password || url.search || url.hash) {
    return { error: `"${text}" must not have credentials, a query or a fragment` };
  }
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, ''), text };
}

export interface TicketTarget {
  readonly shareId: string;
  readonly nonce: string;
}

/** Reads the share id and nonce from a ticket URL that names one of `baseUrls`; a reason otherwise. */
export function matchTicketUrl(text: string, baseUrls: readonly BaseUrl[]): TicketTarget | { error: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: 'the ticket audience is not a URL' };
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.hash) {
    return { error: 'the ticket audience is not a plain https URL' };
  }
  const base = baseUrls.find(
    (candidate) => candidate.origin === url.origin && url.pathname.startsWith(`${candidate.path}/key-shares/`),
  );
  if (!base) {
    return { error: 'the ticket is for another server' };
  }
  const shareId = url.pathname.slice(`${base.path}/key-shares/`.length);
  if (shareId === '' || shareId.includes('/')) {
    return { error: 'the ticket audience does not name one key share' };
  }
  const parameters = [...new URLSearchParams(url.search)];
  const [first] = parameters;
  if (parameters.length !== 1 || !first || first[0] !== 'nonce' || first[1] === '') {
    return { error: 'the ticket audience must carry exactly one nonce parameter' };
  }
  return { shareId, nonce: first[1] };
}
