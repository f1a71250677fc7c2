import type { FastifyInstance, preValidationHookHandler, RouteHandlerMethod } from 'fastify';
import { PROTOCOL_ERROR_TABLE } from '../error-table.js';
import { operationsOf, type ListenerName, type OperationName, type OperationOf } from '../operations.js';
import { sendError } from './error-reply.js';
import { requireOperation, type OpenApiOperation } from './openapi.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The operation the route serves (operations.ts), for the request pipeline's metric and log line. */
    operation?: OperationName;
  }
}

/** What a REST route adds to its operation's table entry: the handler, and a step before schema validation. */
export interface RestOperation {
  readonly handler: RouteHandlerMethod;
  readonly preValidation?: preValidationHookHandler;
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Answers 405 with `Allow` for the methods a path does not support (the reference answers 405 too). */
function registerMethodNotAllowed(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const others = HTTP_METHODS.filter(
    (method) => !allowed.includes(method) && !(method === 'HEAD' && allowed.includes('GET')),
  );
  app.route({
    method: [...others],
    url,
    handler: (request, reply) => {
      reply.header('allow', allowed.join(', '));
      const detail =
        allowed.length > 0 ? `allowed methods: ${allowed.join(', ')}` : 'this path accepts no method on this listener';
      return sendError(request, reply, PROTOCOL_ERROR_TABLE.method_not_allowed, detail);
    },
  });
}

/**
 * Registers a listener's routes from the operation table (operations.ts): each operation of the listener at the
 * path and with the schemas its OpenAPI operationId has, and a 405 for every other method of those paths. Paths of
 * the document that this listener does not serve (the recipient's `/key-capsules/{id}` on the sender listener, and
 * `/key-capsules` on the recipient listener) answer 405 to every method: the official servers do, and a 404 would
 * wrongly suggest that a capsule is unknown.
 */
export function registerOperationRoutes<L extends ListenerName>(
  app: FastifyInstance,
  listener: L,
  openApi: ReadonlyMap<string, OpenApiOperation>,
  routes: Readonly<Record<OperationOf<L>, RestOperation>>,
): void {
  // The type names exactly the listener's operations; the table is read by name only for those.
  const handlers: Readonly<Partial<Record<OperationName, RestOperation>>> = routes;
  const allowedByUrl = new Map<string, string[]>();
  for (const spec of operationsOf(listener)) {
    const route = handlers[spec.name];
    const binding = requireOperation(openApi, spec.rest.operationId);
    if (!route || binding.method !== spec.rest.method) {
      throw new Error(`${spec.name}: no REST handler, or the OpenAPI method is not ${spec.rest.method}`);
    }
    app.route({
      method: spec.rest.method,
      url: binding.url,
      schema: binding.schemas,
      config: { operation: spec.name },
      handler: route.handler,
      ...(route.preValidation ? { preValidation: route.preValidation } : {}),
    });
    allowedByUrl.set(binding.url, [...(allowedByUrl.get(binding.url) ?? []), spec.rest.method]);
  }
  for (const { url } of openApi.values()) {
    if (!allowedByUrl.has(url)) {
      allowedByUrl.set(url, []);
    }
  }
  for (const [url, allowed] of allowedByUrl) {
    registerMethodNotAllowed(app, url, allowed);
  }
}
