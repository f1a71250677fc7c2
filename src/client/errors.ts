/**
 * The client's typed errors. Each has a `kind` to dispatch on (`switch (error.kind)` is exhaustive over
 * ClientErrorKind) and names the server it concerns when there is one. The CLI maps each kind to one exit code.
 */
export type ClientErrorKind =
  | 'invalid_server_list'
  | 'invalid_request'
  | 'not_found'
  | 'not_authorized'
  | 'server_not_trusted'
  | 'organization_duplicate'
  | 'threshold_not_met'
  | 'unavailable'
  | 'server_error';

export abstract class ClientError extends Error {
  override readonly name: string = 'ClientError';
  abstract readonly kind: ClientErrorKind;

  constructor(
    message: string,
    /** The server list id of the server concerned, when one is. */
    readonly serverId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server list file does not parse or breaks a rule (the message names the entry and the field). */
export class ServerListError extends ClientError {
  override readonly name = 'ServerListError';
  readonly kind = 'invalid_server_list';
}

/** The server refused the request as malformed (HTTP 400, INVALID_ARGUMENT), or the caller's input is wrong. */
export class InvalidRequestError extends ClientError {
  override readonly name = 'InvalidRequestError';
  readonly kind = 'invalid_request';
}

/**
 * No such capsule or share for this caller. The servers answer "not found" and "not yours" alike (a spent or
 * stale nonce too), so a client cannot tell them apart either.
 */
export class NotFoundError extends ClientError {
  override readonly name = 'NotFoundError';
  readonly kind = 'not_found';
}

/** The server did not accept the caller's credentials (HTTP 401, UNAUTHENTICATED, PERMISSION_DENIED). */
export class NotAuthorizedError extends ClientError {
  override readonly name = 'NotAuthorizedError';
  readonly kind = 'not_authorized';
}

/**
 * The server's certificate failed chain validation or is not one of the certificates the server list pins for
 * it. Raised during the TLS handshake, before any request byte is sent; never retried.
 */
export class ServerNotTrustedError extends ClientError {
  override readonly name = 'ServerNotTrustedError';
  readonly kind = 'server_not_trusted';
}

/**
 * Two servers chosen for one secret are run by the same organization (CDOC2 spec "CDOC2 CSS" > "Server identification
 * and trust").
 */
export class OrganizationDuplicateError extends ClientError {
  override readonly name = 'OrganizationDuplicateError';
  readonly kind = 'organization_duplicate';
  constructor(
    readonly organization: string,
    readonly serverIds: readonly string[],
  ) {
    super(
      `servers ${serverIds.join(' and ')} are both run by organization "${organization}": each share must go to a different organization`,
    );
  }
}

/** Fewer shares could be fetched than the scheme needs; `failures` says why each missing one is missing. */
export class ThresholdNotMetError extends ClientError {
  override readonly name = 'ThresholdNotMetError';
  readonly kind = 'threshold_not_met';
  constructor(
    readonly needed: number,
    readonly obtained: number,
    readonly failures: readonly ClientError[],
  ) {
    super(
      `${obtained} of the ${needed} shares needed could be fetched` +
        (failures.length > 0
          ? `: ${failures.map((failure) => `${failure.serverId ?? '?'}: ${failure.message}`).join('; ')}`
          : ''),
    );
  }
}

/** The server could not be reached or answered UNAVAILABLE / 503, or the deadline passed. */
export class UnavailableError extends ClientError {
  override readonly name = 'UnavailableError';
  readonly kind = 'unavailable';
}

/** Anything else the server answered (HTTP 5xx, INTERNAL, an answer that breaks the API contract). */
export class ServerError extends ClientError {
  override readonly name = 'ServerError';
  readonly kind = 'server_error';
}
