import { X509Certificate } from 'node:crypto';
import { createCapsuleService } from '../domain/capsules/capsule-service.js';
import type { CapsuleStore } from '../domain/capsules/capsule-store.js';
import { createCertificateTrust } from '../pki/certificate-trust.js';
import {
  createCapsuleRecipientGrpcService,
  createCapsuleSenderGrpcService,
} from '../transport/grpc/capsule-grpc-services.js';
import { startGrpcListener } from '../transport/grpc/grpc-listener.js';
import { grpcTlsOptions } from '../transport/grpc/grpc-tls-options.js';
import {
  CAPSULE_NOT_FOUND,
  registerCapsuleRecipientRoutes,
  registerCapsuleSenderRoutes,
} from '../transport/rest/capsule-routes.js';
import { loadOpenApiOperations } from '../transport/rest/openapi.js';
import { startRestListener } from '../transport/rest/rest-server.js';
import { createRequestPipeline } from '../transport/request-pipeline.js';
import type { ClientTrustCheck } from '../transport/tls/tls-material.js';
import { openApiFile } from './paths.js';
import type { Wiring } from './wiring.js';

export interface CapsulePorts {
  readonly restSender: number;
  readonly restRecipient: number;
  readonly grpcSender: number;
  readonly grpcRecipient: number;
}

/**
 * The key capsule server (CDOC2 spec "CDOC2 CCS" > "Server interfaces"): REST and gRPC, a sender and a recipient
 * listener each.
 */
export async function startCapsuleServer(wiring: Wiring, store: CapsuleStore): Promise<CapsulePorts> {
  const { config, logger, clock, random, revocation, ocspStaple, observer, health, reflection, listen, refusals } =
    wiring;
  const { connectionRefusals, connectionClosures } = wiring;
  const { identity, clientCa } = config.material;
  const service = createCapsuleService({
    store,
    clock,
    random,
    expiry: { defaultMs: config.capsules.expiry.default, maxMs: config.capsules.expiry.max },
  });
  const clientTrust = createCertificateTrust({
    anchors: clientCa.map((pem) => new X509Certificate(pem)),
    revocation,
    label: 'client certificate',
    logger: logger.child({ component: 'certificate-trust' }),
    trustListedLeaves: true,
    refusals,
  });
  const assertClientTrusted: ClientTrustCheck = (der, presentedChain) =>
    clientTrust.assertTrusted(der, clock.now(), presentedChain);
  const operations = loadOpenApiOperations(openApiFile('key-capsules.yaml'));
  const { host } = config;
  const { ports } = config.capsules;
  const serverLogger = logger.child({ server: 'capsules' });
  const pipeline = createRequestPipeline(serverLogger, observer);
  const { limits } = config;
  const rest = {
    host,
    identity,
    logger: serverLogger,
    ocspStaple,
    pipeline,
    limits,
    connectionRefusals,
    connectionClosures,
  };
  const grpc = {
    logger: serverLogger,
    pipeline,
    ocspStaple,
    health,
    reflection,
    limits,
    connectionRefusals,
    connectionClosures,
  };
  return {
    restSender: await listen(
      startRestListener({
        ...rest,
        name: 'capsules-sender',
        port: ports.restSender,
        notFoundDetail: 'not found',
        routes: (app) => registerCapsuleSenderRoutes(app, service, operations),
      }),
    ),
    restRecipient: await listen(
      startRestListener({
        ...rest,
        name: 'capsules-recipient',
        port: ports.restRecipient,
        clientCa,
        notFoundDetail: CAPSULE_NOT_FOUND,
        routes: (app) => registerCapsuleRecipientRoutes(app, service, operations, assertClientTrusted, refusals),
      }),
    ),
    grpcSender: await listen(
      startGrpcListener(
        host,
        ports.grpcSender,
        grpcTlsOptions(identity, limits),
        [createCapsuleSenderGrpcService(service, pipeline)],
        { ...grpc, name: 'capsules-grpc-sender' },
      ),
    ),
    grpcRecipient: await listen(
      startGrpcListener(
        host,
        ports.grpcRecipient,
        grpcTlsOptions(identity, limits, clientCa),
        [createCapsuleRecipientGrpcService(service, pipeline, assertClientTrusted)],
        { ...grpc, name: 'capsules-grpc-recipient', certificateRefusals: refusals },
      ),
    ),
  };
}
