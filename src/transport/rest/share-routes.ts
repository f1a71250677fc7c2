import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SHARE_NOT_FOUND, type ShareService } from '../../domain/shares/share-service.js';
import { invalidArgument } from '../../domain/errors.js';
import { ERROR_TABLE } from '../error-table.js';
import { decodeBase64Field } from './base64.js';
import { sendError } from './error-reply.js';
import { expiryHeaders, requestedExpiry } from './expiry-headers.js';
import type { OpenApiOperation } from './openapi.js';
import { registerOperationRoutes } from './operation-routes.js';

/** The body shape the OpenAPI schema has already enforced. */
interface KeyShareBody {
  share: string;
  recipient: string;
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * The ticket: `x-cdoc2-auth-ticket` (key-shares 1.0.1) or `x-cdoc2-auth-token` (the 1.2 drafts). Sending both
 * with different values is ambiguous and refused.
 */
function authTicket(request: FastifyRequest): string {
  const ticket = header(request, 'x-cdoc2-auth-ticket');
  const token = header(request, 'x-cdoc2-auth-token');
  if (ticket !== undefined && token !== undefined && ticket !== token) {
    throw invalidArgument('x-cdoc2-auth-ticket and x-cdoc2-auth-token differ; send one of them');
  }
  return ticket ?? token ?? '';
}

/** The shares server (CDOC2 spec "CDOC2 CSS" > "Server interfaces"): one listener, TLS 1.3, no client certificate. */
export function registerShareRoutes(
  app: FastifyInstance,
  service: ShareService,
  openApi: ReadonlyMap<string, OpenApiOperation>,
): void {
  registerOperationRoutes(app, 'shares', openApi, {
    CreateKeyShare: {
      handler: async (request, reply) => {
        const body = request.body as KeyShareBody;
        const created = await service.create(
          { share: decodeBase64Field('share', body.share), recipient: body.recipient },
          requestedExpiry(request),
        );
        return reply
          .code(201)
          .headers({ location: `/key-shares/${created.shareId}`, ...expiryHeaders(created) })
          .send();
      },
    },
    CreateNonce: {
      // The request has no fields (key-shares OpenAPI: "always empty", `nullable`): no body, an empty body and the
      // `null` the official Java client sends all read as {} before the schema (an object) is applied.
      preValidation: (request, _reply, done) => {
        if (request.body === undefined || request.body === null) {
          request.body = {};
        }
        done();
      },
      handler: async (request, reply) => {
        const { shareId } = request.params as { shareId: string };
        return reply.code(200).send({ nonce: await service.createNonce(shareId) });
      },
    },
    GetKeyShare: {
      handler: async (request, reply) => {
        const { shareId } = request.params as { shareId: string };
        const share = await service.get(shareId, authTicket(request), header(request, 'x-cdoc2-auth-x5c') ?? '');
        // Key order as the OpenAPI lists it: share, recipient.
        return reply
          .code(200)
          .type('application/json')
          .send(JSON.stringify({ share: Buffer.from(share.share).toString('base64'), recipient: share.recipient }));
      },
    },
  });
  // `/key-shares/` names no share: the same 404 as any unknown id (the official server and its functional tests,
  // GET_KEYSHARE NEG-02), not a 400 for an id of length 0.
  app.get('/key-shares/', (request, reply) => sendError(request, reply, ERROR_TABLE.not_found, SHARE_NOT_FOUND));
}
