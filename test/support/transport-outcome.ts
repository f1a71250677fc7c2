import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_TABLE } from '../../src/transport/error-table.js';
import type { HttpResponse } from './test-server.js';

/**
 * How a request ended, the same on both wires, so that one case table can hold REST and gRPC to the same
 * answer: each refusal is a row of the one error table (src/transport/error-table.ts), read back from the HTTP
 * status or the gRPC code.
 */
export type Refusal = 'bad-request' | 'unauthenticated' | 'not-found' | 'too-many';

const TABLE_ROW = {
  'bad-request': ERROR_TABLE.invalid_argument,
  unauthenticated: ERROR_TABLE.unauthenticated,
  'not-found': ERROR_TABLE.not_found,
  'too-many': ERROR_TABLE.resource_exhausted,
} as const;

export interface Refused {
  readonly ok: false;
  readonly refusal: Refusal;
  /** The reason the answer gives: the problem's `detail`, or the gRPC status details. */
  readonly detail: string;
  /**
   * All of the answer but what belongs to the request itself (Date, x-request-id): two answers that must not be
   * told apart ("not found" and "not yours") must be deeply equal here.
   */
  readonly comparable: unknown;
  /** Everything the client was shown, for checks that a secret is not in it. */
  readonly text: string;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | Refused;

/** The value of a successful outcome; fails the test with the refusal's reason otherwise. */
export function expectOk<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) {
    expect.fail(`expected success, got ${outcome.refusal}: ${outcome.detail}`);
  }
  return outcome.value;
}

/** The refusal of an outcome, checked to be `refusal`. */
export function expectRefused(outcome: Outcome<unknown>, refusal: Refusal): Refused {
  if (outcome.ok) {
    expect.fail(`expected ${refusal}, but the request succeeded`);
  }
  expect(outcome.refusal, outcome.detail).to.equal(refusal);
  return outcome;
}

/** Checks that none of `secrets` appears in what the client was shown. */
export function expectNoLeak(refused: Refused, secrets: readonly string[]): void {
  for (const secret of secrets) {
    expect(refused.text, `the answer contains ${secret}`).to.not.include(secret);
  }
}

const refusalOfHttp = (code: number): Refusal | undefined =>
  (Object.keys(TABLE_ROW) as Refusal[]).find((refusal) => TABLE_ROW[refusal].http === code);

/**
 * A REST answer as an outcome: `success` status decoded by `decode`; any other status must be one of the table's
 * refusals, answered as RFC 9457 problem details (the tests ask for them with PROBLEM_ACCEPT).
 */
export function restOutcome<T>(res: HttpResponse, success: number, decode: (res: HttpResponse) => T): Outcome<T> {
  if (res.status === success) {
    return { ok: true, value: decode(res) };
  }
  const refusal = refusalOfHttp(res.status);
  expect(refusal, `unexpected status ${res.status}: ${res.body}`).to.not.equal(undefined);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  const problem = JSON.parse(res.body) as { detail?: unknown };
  // Exactly the members RFC 9457 defines that the servers use: nothing else may leak into an error body.
  expect(problem).to.have.all.keys('type', 'title', 'status', 'detail');
  expect(problem).to.include({
    type: 'about:blank',
    title: TABLE_ROW[refusal ?? 'bad-request'].title,
    status: res.status,
  });
  expect(problem.detail).to.be.a('string');
  const { date: _date, 'x-request-id': _requestId, ...headers } = res.headers;
  return {
    ok: false,
    refusal: refusal ?? 'bad-request',
    detail: String(problem.detail),
    comparable: { status: res.status, headers, body: res.body },
    text: `${JSON.stringify(res.headers)}\n${res.body}`,
  };
}

const refusalOfGrpc = (code: status): Refusal | undefined =>
  (Object.keys(TABLE_ROW) as Refusal[]).find((refusal) => TABLE_ROW[refusal].grpc === code);

/** A gRPC call as an outcome: its response, or its status mapped back through the table. */
export async function grpcOutcome<T>(call: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call };
  } catch (caught) {
    const error = caught as ServiceError;
    const refusal = refusalOfGrpc(error.code);
    expect(refusal, `unexpected status ${status[error.code]}: ${error.details}`).to.not.equal(undefined);
    return {
      ok: false,
      refusal: refusal ?? 'bad-request',
      detail: error.details,
      comparable: { code: error.code, details: error.details, message: error.message },
      text: `${error.message}\n${error.details}\n${JSON.stringify(error.metadata.toJSON())}`,
    };
  }
}

/** The outcome with its value (if any) passed through `map`. */
export const mapOutcome = <T, U>(outcome: Outcome<T>, map: (value: T) => U): Outcome<U> =>
  outcome.ok ? { ok: true, value: map(outcome.value) } : outcome;
