import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorMapping } from '../error-table.js';
import { traceOf } from './request-traces.js';

/**
 * The one place where the REST gateway renders an error. Every failure of a REST listener ends here: the domain
 * errors of the error table, Fastify's own 404/405/413/415, the 503 of a shutdown or a database outage, and (in
 * `rawErrorResponse`) the 400/408/431 that Node's HTTP parser raises before a request exists.
 *
 * The body is empty by default, as the official CDOC2 servers answer and the official functional tests assert
 * (cdoc2-gatling-tests GET_CAPSULE NEG-02..09: `bodyLength == 0`). A client that names
 * `application/problem+json` in `Accept` gets RFC 9457 problem details instead. Either way the answer carries
 * `x-request-id`, the id under which the request's log line (with the reason) was written.
 */
export const PROBLEM_JSON = 'application/problem+json';

export const REQUEST_ID_HEADER = 'x-request-id';

/** RFC 9457 problem details. */
export interface Problem {
  readonly type: 'about:blank';
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

/**
 * Whether an `Accept` header names `application/problem+json` with a non-zero weight (RFC 9110 12.5.1). Wildcards
 * (`*\/*`, `application/*`) do not count: they are what clients send when they expect nothing in particular.
 */
export function acceptsProblemJson(accept: string | readonly string[] | undefined): boolean {
  const values = typeof accept === 'string' ? [accept] : (accept ?? []);
  return values
    .flatMap((value) => value.split(','))
    .some((range) => {
      const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
      if (type !== PROBLEM_JSON) {
        return false;
      }
      const weight = parameters.find((parameter) => /^q\s*=/.test(parameter));
      return weight === undefined || Number(weight.replace(/^q\s*=\s*/, '')) > 0;
    });
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  mapping: ErrorMapping,
  detail: string,
): FastifyReply {
  // Why the request failed, for its log line (the body may not say) and its outcome.
  traceOf(request)?.refuse(mapping, detail);
  reply.code(mapping.http);
  if (!acceptsProblemJson(request.headers.accept)) {
    return reply.send();
  }
  const problem: Problem = { type: 'about:blank', title: mapping.title, status: mapping.http, detail };
  return reply.type(PROBLEM_JSON).send(JSON.stringify(problem));
}

/**
 * The answer to a request Node's HTTP parser refused before Fastify saw it (bad request line, headers too large,
 * a request that never finished): written straight to the socket, which is then closed. No header of the request
 * can be trusted, so `Accept` is not consulted and the body is always empty.
 */
export function writeRawError(socket: Duplex, mapping: ErrorMapping, requestId: string): void {
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${mapping.http} ${STATUS_CODES[mapping.http] ?? mapping.title}\r\n` +
        `content-length: 0\r\ncache-control: no-store\r\n${REQUEST_ID_HEADER}: ${requestId}\r\nconnection: close\r\n\r\n`,
    );
  }
  socket.destroy();
}
