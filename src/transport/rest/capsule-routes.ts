import type { FastifyInstance } from 'fastify';
import { CAPSULE_NOT_FOUND, type CapsuleService } from '../../domain/capsules/capsule-service.js';
import type { StoredCapsule } from '../../domain/capsules/capsule.js';
import { isCapsuleType } from '../../domain/capsules/capsule-types.js';
import { invalidArgument, unauthenticated } from '../../domain/errors.js';
import { ERROR_TABLE } from '../error-table.js';
import { socketPeerIdentity, type PeerIdentity } from '../tls/peer-identity.js';
import { judgeClientSocket, reportRefusal } from '../tls/certificate-refusal.js';
import type { CertificateRefusals } from '../../domain/certificate-trust.js';
import type { ClientTrustCheck } from '../tls/tls-material.js';
import { decodeBase64Field } from './base64.js';
import { expiryHeaders, requestedExpiry } from './expiry-headers.js';
import type { OpenApiOperation } from './openapi.js';
import { sendError } from './error-reply.js';
import { registerOperationRoutes } from './operation-routes.js';
import { tlsSocketOf } from './rest-server.js';

export { CAPSULE_NOT_FOUND };

/** The body shape the OpenAPI schema has already enforced. */
interface CapsuleBody {
  recipient_id: string;
  ephemeral_key_material: string;
  capsule_type: string;
}

/** The GET body, keys in the order recipient_id, ephemeral_key_material, capsule_type (a client compares it). */
const capsuleJson = (capsule: StoredCapsule): string =>
  JSON.stringify({
    recipient_id: Buffer.from(capsule.recipientId).toString('base64'),
    ephemeral_key_material: Buffer.from(capsule.ephemeralKeyMaterial).toString('base64'),
    capsule_type: capsule.capsuleType,
  });

/** The sender listener: `POST /key-capsules` (openapi/key-capsules.yaml, `createCapsule`); 405 for the rest. */
export function registerCapsuleSenderRoutes(
  app: FastifyInstance,
  service: CapsuleService,
  openApi: ReadonlyMap<string, OpenApiOperation>,
): void {
  registerOperationRoutes(app, 'capsules-sender', openApi, {
    CreateKeyCapsule: {
      handler: async (request, reply) => {
        const body = request.body as CapsuleBody;
        if (!isCapsuleType(body.capsule_type)) {
          throw invalidArgument(`capsule_type ${JSON.stringify(body.capsule_type)} is not supported`);
        }
        const created = await service.create(
          {
            recipientId: decodeBase64Field('recipient_id', body.recipient_id),
            ephemeralKeyMaterial: decodeBase64Field('ephemeral_key_material', body.ephemeral_key_material),
            capsuleType: body.capsule_type,
          },
          requestedExpiry(request),
        );
        // A path, not an absolute URL: servers sit behind load balancers (README "Behind a load balancer").
        return reply
          .code(201)
          .headers({ location: `/key-capsules/${created.transactionId}`, ...expiryHeaders(created) })
          .send();
      },
    },
  });
}

/**
 * The recipient listener: `GET /key-capsules/{transactionId}` behind mutual TLS (CDOC2 spec "CDOC2 CCS"
 * > "Recipient interface"; openapi/key-capsules.yaml, `getCapsuleByTransactionId`).
 */
export function registerCapsuleRecipientRoutes(
  app: FastifyInstance,
  service: CapsuleService,
  openApi: ReadonlyMap<string, OpenApiOperation>,
  assertClientTrusted: ClientTrustCheck,
  refusals?: CertificateRefusals,
): void {
  // Before anything else, on every path of this listener: no trusted client certificate, no answer but 401.
  // The identity the hook judged, for the handler: by then the client may have closed the connection (e.g.
  // `Connection: close` and more bytes in one write), and a destroyed socket has no certificate.
  const judged = new WeakMap<object, PeerIdentity>();
  app.addHook('onRequest', async (request) => {
    const socket = tlsSocketOf(request.raw.socket);
    if (socket.destroyed) {
      // The client has gone (a pipelined request after `Connection: close`): nobody to answer, nothing refused.
      throw unauthenticated('the connection is closed');
    }
    const verdict = judgeClientSocket(socket);
    const peer = verdict.trusted ? socketPeerIdentity(socket) : undefined;
    if (!peer) {
      reportRefusal(request.log, refusals, 'capsules-recipient', verdict);
      throw unauthenticated(
        verdict.reason === 'missing' || verdict.trusted
          ? 'a client certificate is required'
          : `the client certificate is not trusted (${String(verdict.detail)})`,
      );
    }
    // TLS verified the chain; this adds the explicit path rules and revocation (OCSP).
    await assertClientTrusted(peer.der, peer.presentedChain);
    judged.set(request, peer);
  });
  registerOperationRoutes(app, 'capsules-recipient', openApi, {
    GetKeyCapsule: {
      handler: async (request, reply) => {
        const peer = judged.get(request);
        if (!peer) {
          throw unauthenticated('a client certificate is required');
        }
        const { transactionId } = request.params as { transactionId: string };
        const capsule = await service.get(transactionId, peer.recipientKey);
        return reply.code(200).headers(expiryHeaders(capsule)).type('application/json').send(capsuleJson(capsule));
      },
    },
  });
  // `/key-capsules/` names no capsule: the same 404 as any unknown id (the reference answers 404 too).
  app.get('/key-capsules/', (request, reply) => sendError(request, reply, ERROR_TABLE.not_found, CAPSULE_NOT_FOUND));
}
