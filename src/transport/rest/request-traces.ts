import type { FastifyRequest } from 'fastify';
import type { RequestTrace } from '../request-pipeline.js';

/**
 * The pipeline trace of each REST request (request-pipeline.ts), started by the listener's first `onRequest` hook
 * and finished by its `onResponse` hook; `sendError` records on it why a request failed.
 */
const traces = new WeakMap<FastifyRequest, RequestTrace>();

export const keepTrace = (request: FastifyRequest, trace: RequestTrace): void => {
  traces.set(request, trace);
};

export const traceOf = (request: FastifyRequest): RequestTrace | undefined => traces.get(request);
