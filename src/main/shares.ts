import { X509Certificate } from 'node:crypto';
import { createAuthTicketVerifier } from '../auth/auth-ticket-verifier.js';
import { createShareService } from '../domain/shares/share-service.js';
import type { ShareStore } from '../domain/shares/share-store.js';
import { parseBaseUrl, type BaseUrl } from '../domain/shares/ticket-url.js';
import { createCertificateTrust } from '../pki/certificate-trust.js';
import { startGrpcListener } from '../transport/grpc/grpc-listener.js';
import { grpcTlsOptions } from '../transport/grpc/grpc-tls-options.js';
import {
  createShareRecipientGrpcService,
  createShareSenderGrpcService,
} from '../transport/grpc/share-grpc-services.js';
import { loadOpenApiOperations } from '../transport/rest/openapi.js';
import { startRestListener } from '../transport/rest/rest-server.js';
import { registerShareRoutes } from '../transport/rest/share-routes.js';
import { createRequestPipeline } from '../transport/request-pipeline.js';
import { openApiFile } from './paths.js';
import type { Wiring } from './wiring.js';

export interface SharePorts {
  readonly rest: number;
  readonly grpc: number;
}

/** The shares server (CDOC2 spec "CDOC2 CSS" > "Server interfaces"): one REST and one gRPC listener. */
export async function startSharesServer(wiring: Wiring, store: ShareStore): Promise<SharePorts> {
  const { config, logger, clock, random, revocation, ocspStaple, observer, health, reflection, listen, refusals } =
    wiring;
  const { identity, trustedIssuers } = config.material;
  const trust = createCertificateTrust({
    anchors: trustedIssuers.map((pem) => new X509Certificate(pem)),
    revocation,
    label: 'auth certificate',
    logger: logger.child({ component: 'certificate-trust' }),
    refusals,
  });
  const service = createShareService({
    store,
    // The schema has already refused every base URL that does not parse.
    verifier: createAuthTicketVerifier({
      baseUrls: config.shares.baseUrls.map((text) => parseBaseUrl(text) as BaseUrl),
      trust,
    }),
    clock,
    random,
    expiry: { defaultMs: config.shares.expiry.default, maxMs: config.shares.expiry.max },
    nonces: { ttlMs: config.shares.nonceTtl, maxLivePerShare: config.shares.maxNoncesPerShare },
  });
  const operations = loadOpenApiOperations(openApiFile('key-shares.yaml'));
  const serverLogger = logger.child({ server: 'shares' });
  const pipeline = createRequestPipeline(serverLogger, observer);
  const rest = await listen(
    startRestListener({
      name: 'shares',
      host: config.host,
      port: config.shares.ports.rest,
      identity,
      logger: serverLogger,
      notFoundDetail: 'not found',
      acceptEmptyJsonBody: true,
      routes: (app) => registerShareRoutes(app, service, operations),
      ocspStaple,
      pipeline,
      limits: config.limits,
      connectionRefusals: wiring.connectionRefusals,
      connectionClosures: wiring.connectionClosures,
    }),
  );
  const grpc = await listen(
    startGrpcListener(
      config.host,
      config.shares.ports.grpc,
      grpcTlsOptions(identity, config.limits),
      [createShareSenderGrpcService(service, pipeline), createShareRecipientGrpcService(service, pipeline)],
      {
        name: 'shares-grpc',
        logger: serverLogger,
        pipeline,
        ocspStaple,
        health,
        reflection,
        limits: config.limits,
        connectionRefusals: wiring.connectionRefusals,
        connectionClosures: wiring.connectionClosures,
      },
    ),
  );
  return { rest, grpc };
}
