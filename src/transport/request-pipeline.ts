import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger.js';
import type { RequestObserver } from '../observability/metrics.js';
import {
  INTERNAL_ERROR,
  mappingForHttpStatus,
  toPublicError,
  type AbandonedOutcome,
  type ErrorMapping,
  type Outcome,
  type PublicError,
} from './error-table.js';
import type { LoggedOperation } from './operations.js';

/**
 * The one request pipeline of both transports (README "Health, metrics, logs"). The gRPC adapter (grpc/unary.ts)
 * and the REST gateway (rest/rest-server.ts) each start a trace per request and finish it once; the request id,
 * the error mapping, the metric and the log line are made here only, so that their names, labels and fields are
 * the same on both wires by construction.
 */
export type Transport = 'rest' | 'grpc';

/** The request id: the `requestId` log field and, on REST, the `x-request-id` header. */
export const newRequestId = (): string => randomUUID();

export interface RequestStart {
  readonly transport: Transport;
  readonly listener: string;
  readonly operation: LoggedOperation;
  /** The client's address and port. */
  readonly peer: string | undefined;
  /** An id the transport already handed out (Fastify's request id); a fresh one otherwise. */
  readonly requestId?: string;
}

/** The fields of the request log line, in this order, and nothing else (a test compares them across transports). */
export const REQUEST_LOG_FIELDS = [
  'requestId',
  'transport',
  'listener',
  'operation',
  'outcome',
  'status',
  'durationMs',
  'peer',
  'certificate',
  'reason',
] as const;

export interface RequestTrace {
  readonly requestId: string;
  /** Maps a thrown error through the error table (logging unknown ones in full) and records it as the outcome. */
  fail(error: unknown): PublicError;
  /** Records a refusal the transport decided itself (protocol errors, schema violations) and why. */
  refuse(mapping: ErrorMapping, reason: string): void;
  /**
   * Ends a request that got no answer of ours (README "Health, metrics, logs"): the client cancelled it or went
   * away, or its deadline passed. Writes the log line and metric now, with `status` the transport's code for it;
   * the answer the work produces later is discarded by the transport and recorded nowhere.
   */
  abandon(outcome: AbandonedOutcome, status: number | string, reason: string): void;
  /**
   * Writes the request's one log line and metric; later calls do nothing. `status` is the transport's own code (an
   * HTTP status or a gRPC status name); `certificate` the client certificate's log subject, if any.
   */
  finish(status: number | string, certificate?: string): void;
}

export interface RequestPipeline {
  start(request: RequestStart): RequestTrace;
}

/** The outcome of an answer nobody recorded a mapping for: a success, or a status a library chose. */
function outcomeOfStatus(status: number | string): Outcome {
  if (typeof status === 'string') {
    return status === 'OK' ? 'ok' : INTERNAL_ERROR.outcome;
  }
  if (status < 400) {
    return 'ok';
  }
  return status < 500 ? mappingForHttpStatus(status).outcome : status === 503 ? 'unavailable' : 'internal';
}

export function createRequestPipeline(logger: Logger, observer?: RequestObserver): RequestPipeline {
  return {
    start(request) {
      const started = process.hrtime.bigint();
      const requestId = request.requestId ?? newRequestId();
      let recorded: { readonly outcome: Outcome; readonly reason: string } | undefined;
      let finished = false;
      const finish = (status: number | string, certificate?: string): void => {
        if (finished) {
          return;
        }
        finished = true;
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const outcome = recorded?.outcome ?? outcomeOfStatus(status);
        observer?.observe(request.transport, request.operation, outcome, durationMs);
        const line: Record<(typeof REQUEST_LOG_FIELDS)[number], unknown> = {
          requestId,
          transport: request.transport,
          listener: request.listener,
          operation: request.operation,
          outcome,
          status,
          durationMs,
          peer: request.peer,
          certificate,
          reason: recorded?.reason,
        };
        logger.info(line, 'request');
      };
      return {
        requestId,
        fail(error) {
          const publicError = toPublicError(error, logger, { requestId, operation: request.operation });
          recorded = { outcome: publicError.mapping.outcome, reason: publicError.message };
          return publicError;
        },
        refuse(mapping, reason) {
          recorded = { outcome: mapping.outcome, reason };
        },
        abandon(outcome, status, reason) {
          if (!finished) {
            recorded = { outcome, reason };
            finish(status);
          }
        },
        finish,
      };
    },
  };
}
