import { randomBytes, X509Certificate } from 'node:crypto';
import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { createCapsuleService } from '../domain/capsules/capsule-service.js';
import { runExpiryCleanup, type ExpiredRowDeleter } from '../domain/capsules/expiry-cleanup.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { RandomSource } from '../domain/random.js';
import type { Logger } from '../logging/logger.js';
import { createDatabase, isSchemaCurrent, migrateLatest, poolUse, type Database } from '../storage/database.js';
import { createMetrics, type RequestObserver } from '../observability/metrics.js';
import { startManagementListener, type Readiness } from '../transport/management/management-server.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKnexCapsuleStore } from '../storage/knex-capsule-store.js';
import { createKnexShareStore } from '../storage/knex-share-store.js';
import { createAuthTicketVerifier } from '../auth/auth-ticket-verifier.js';
import { createCertificateTrust } from '../pki/certificate-trust.js';
import { createRevocationChecker, type RevocationStats } from '../pki/revocation-checker.js';
import { createOcspStapler } from '../pki/ocsp-stapler.js';
import { createShareService } from '../domain/shares/share-service.js';
import { parseBaseUrl, type BaseUrl } from '../domain/shares/ticket-url.js';
import {
  createShareRecipientGrpcService,
  createShareSenderGrpcService,
} from '../transport/grpc/share-grpc-services.js';
import { registerShareRoutes } from '../transport/rest/share-routes.js';
import {
  createCapsuleRecipientGrpcService,
  createCapsuleSenderGrpcService,
} from '../transport/grpc/capsule-grpc-services.js';
import { startGrpcListener } from '../transport/grpc/grpc-listener.js';
import { createTls13ServerCredentials } from '../transport/grpc/server-credentials.js';
import {
  CAPSULE_NOT_FOUND,
  registerCapsuleRecipientRoutes,
  registerCapsuleSenderRoutes,
} from '../transport/rest/capsule-routes.js';
import { loadOpenApiOperations } from '../transport/rest/openapi.js';
import { startRestListener } from '../transport/rest/rest-server.js';
import { openApiFile, packageRoot } from './paths.js';
import { createHealthMonitor } from './health-monitor.js';
import type { HealthSource } from '../transport/grpc/health-service.js';
import { createReflection, type ReflectionInstaller } from '../transport/grpc/reflection.js';
import { createPeriodicTask } from './periodic-task.js';
import { readCertificateBundle, readServerIdentity } from './tls-files.js';
import type { CapsuleStore } from '../domain/capsules/capsule-store.js';
import type { CertificateTrust } from '../domain/certificate-trust.js';
import type { ShareStore } from '../domain/shares/share-store.js';
import type { ClientTrustCheck, OcspStapleSource, ServerIdentity } from '../transport/tls/tls-material.js';

export interface AppDependencies {
  readonly logger: Logger;
  /** Injected by tests to move time; the system clock otherwise. */
  readonly clock?: Clock;
}

export interface CapsulePorts {
  readonly restSender: number;
  readonly restRecipient: number;
  readonly grpcSender: number;
  readonly grpcRecipient: number;
}

export interface SharePorts {
  readonly rest: number;
  readonly grpc: number;
}

export interface RunningApp {
  /** The ports actually bound (configured port 0 means any free port). */
  readonly capsulePorts: CapsulePorts | undefined;
  readonly sharePorts: SharePorts | undefined;
  /** The management (health, metrics) listener's port, when it is enabled. */
  readonly managementPort: number | undefined;
  /** OCSP cache hits, responder failures and refusals since start. */
  readonly revocationStats: RevocationStats;
  readonly database: Database;
  /** Re-checks database health now for the gRPC health service (it is also checked every 5 seconds). */
  refreshHealth(): Promise<void>;
  /** Runs one cleanup pass now (the periodic task runs the same). */
  runCleanup(): Promise<number>;
  /** Stops accepting, finishes in-flight requests, stops the cleanup, closes the database. */
  close(): Promise<void>;
}

const nodeRandom: RandomSource = { bytes: (length) => new Uint8Array(randomBytes(length)) };

/** `mysql://user:secret@host/db` → `mysql://user:***@host/db`, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  const db = createDatabase({ url: config.database.url, poolMax: config.database.pool.max, logger });
  try {
    if (config.database.migrate) {
      await migrateLatest(db);
    } else {
      await db.raw('select 1');
    }
    return db;
  } catch (error) {
    await db.destroy();
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      `database.url: cannot use ${redactUrl(config.database.url)} (${typeof code === 'string' ? code : (error as Error).message})`,
    );
  }
}

/** How often the gRPC health service's database verdict is refreshed. */
const HEALTH_INTERVAL_MS = 5000;

/** The package's name and version, for /info. */
const PACKAGE = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/**
 * Readiness (spec/interfaces.md `management`): the database answers and every migration this build knows is
 * applied. Failures are reported as short reasons; the full error goes to the log through the database logger.
 */
async function readiness(db: Database): Promise<Readiness> {
  try {
    await db.raw('select 1');
  } catch {
    return { ready: false, checks: { database: 'unreachable', schema: 'unknown' } };
  }
  try {
    return (await isSchemaCurrent(db))
      ? { ready: true, checks: { database: 'ok', schema: 'ok' } }
      : { ready: false, checks: { database: 'ok', schema: 'migrations pending' } };
  } catch {
    return { ready: false, checks: { database: 'ok', schema: 'unreadable' } };
  }
}

/** What both servers are built from. */
interface Wiring {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly identity: ServerIdentity;
  readonly ocspStaple: OcspStapleSource | undefined;
  readonly observer: RequestObserver;
  readonly health: HealthSource;
  readonly reflection: ReflectionInstaller;
  /** Each listener started registers its close here, so that a failed start closes what it opened. */
  readonly closers: Array<() => Promise<void>>;
}

/** The key capsule server (spec/capsule-server.md): REST and gRPC, a sender and a recipient listener each. */
async function startCapsuleServer(
  { config, logger, clock, identity, ocspStaple, observer, health, reflection, closers }: Wiring,
  store: CapsuleStore,
  clientCa: readonly Buffer[],
  assertClientTrusted: ClientTrustCheck,
): Promise<CapsulePorts> {
  const service = createCapsuleService({
    store,
    clock,
    random: nodeRandom,
    expiry: { defaultMs: config.capsules.expiry.default, maxMs: config.capsules.expiry.max },
  });
  const operations = loadOpenApiOperations(openApiFile('key-capsules.yaml'));
  const { host } = config;
  const { ports } = config.capsules;
  const serverLogger = logger.child({ server: 'capsules' });
  const restSender = await startRestListener({
    name: 'capsules-sender',
    host,
    port: ports.restSender,
    identity,
    logger: serverLogger,
    notFoundDetail: 'not found',
    routes: (app) => registerCapsuleSenderRoutes(app, service, operations),
    ocspStaple,
    observer,
  });
  closers.push(() => restSender.close());
  const restRecipient = await startRestListener({
    name: 'capsules-recipient',
    host,
    port: ports.restRecipient,
    identity,
    clientCa,
    logger: serverLogger,
    notFoundDetail: CAPSULE_NOT_FOUND,
    routes: (app) => registerCapsuleRecipientRoutes(app, service, operations, assertClientTrusted),
    ocspStaple,
    observer,
  });
  closers.push(() => restRecipient.close());
  const grpcSender = await startGrpcListener(
    host,
    ports.grpcSender,
    createTls13ServerCredentials(identity),
    [createCapsuleSenderGrpcService(service, serverLogger, observer)],
    { ocspStaple, health, reflection },
  );
  closers.push(() => grpcSender.close());
  const grpcRecipient = await startGrpcListener(
    host,
    ports.grpcRecipient,
    createTls13ServerCredentials(identity, clientCa),
    [createCapsuleRecipientGrpcService(service, serverLogger, assertClientTrusted, observer)],
    { ocspStaple, health, reflection },
  );
  closers.push(() => grpcRecipient.close());
  return {
    restSender: restSender.port,
    restRecipient: restRecipient.port,
    grpcSender: grpcSender.port,
    grpcRecipient: grpcRecipient.port,
  };
}

/** The shares server (spec/shares-server.md): one REST and one gRPC listener. */
async function startSharesServer(
  { config, logger, clock, identity, ocspStaple, observer, health, reflection, closers }: Wiring,
  store: ShareStore,
  trust: CertificateTrust,
): Promise<SharePorts> {
  const service = createShareService({
    store,
    verifier: createAuthTicketVerifier({
      baseUrls: config.shares.baseUrls.map((text) => parseBaseUrl(text) as BaseUrl),
      trust,
    }),
    clock,
    random: nodeRandom,
    expiry: { defaultMs: config.shares.expiry.default, maxMs: config.shares.expiry.max },
    nonces: { ttlMs: config.shares.nonceTtl, maxLivePerShare: config.shares.maxNoncesPerShare },
  });
  const operations = loadOpenApiOperations(openApiFile('key-shares.yaml'));
  const serverLogger = logger.child({ server: 'shares' });
  const rest = await startRestListener({
    name: 'shares',
    host: config.host,
    port: config.shares.ports.rest,
    identity,
    logger: serverLogger,
    notFoundDetail: 'not found',
    acceptEmptyJsonBody: true,
    routes: (app) => registerShareRoutes(app, service, operations),
    ocspStaple,
    observer,
  });
  closers.push(() => rest.close());
  const grpc = await startGrpcListener(
    config.host,
    config.shares.ports.grpc,
    createTls13ServerCredentials(identity),
    [
      createShareSenderGrpcService(service, serverLogger, observer),
      createShareRecipientGrpcService(service, serverLogger, observer),
    ],
    { ocspStaple, health, reflection },
  );
  closers.push(() => grpc.close());
  return { rest: rest.port, grpc: grpc.port };
}

/** Wires storage, domain and both transports from one validated configuration, and starts every listener. */
export async function startApp(config: Config, { logger, clock = systemClock }: AppDependencies): Promise<RunningApp> {
  if (!config.tls) {
    throw new ConfigError('tls: required (cert and key of this server)');
  }
  const identity = readServerIdentity(config.tls);
  // Every file is read and checked before anything starts, so that a bad path stops the start cleanly.
  const clientCa = config.capsules.enabled ? readCertificateBundle('capsules.clientCa', config.capsules.clientCa) : [];
  const trustedIssuers = config.shares.enabled
    ? readCertificateBundle('shares.trustedIssuers', config.shares.trustedIssuers)
    : [];
  const db = await openDatabase(config, logger.child({ component: 'database' }));
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
  };

  const revocation = createRevocationChecker({
    mode: config.revocation.mode,
    responderUrl: config.revocation.responderUrl,
    timeoutMs: config.revocation.timeout,
    maxResponseAgeMs: config.revocation.maxResponseAge,
    cacheSize: config.revocation.cacheSize,
    clock,
    logger: logger.child({ component: 'revocation' }),
  });
  const trustLogger = logger.child({ component: 'certificate-trust' });
  const stapler = config.revocation.stapling
    ? createOcspStapler({
        certChainPem: identity.certChain.toString('utf8'),
        responderUrl: config.revocation.responderUrl,
        timeoutMs: config.revocation.timeout,
        maxResponseAgeMs: config.revocation.maxResponseAge,
        clock,
        logger: logger.child({ component: 'ocsp-stapling' }),
      })
    : undefined;
  const ocspStaple = stapler ? () => stapler.response() : undefined;
  const clientTrust = createCertificateTrust({
    anchors: clientCa.map((pem) => new X509Certificate(pem)),
    revocation,
    label: 'client certificate',
    logger: trustLogger,
  });
  const assertClientTrusted: ClientTrustCheck = (der, presentedChain) =>
    clientTrust.assertTrusted(der, clock.now(), presentedChain);

  const capsuleStore = createKnexCapsuleStore(db);
  const shareStore = createKnexShareStore(db);
  const metrics = createMetrics(
    () => revocation.stats,
    () => poolUse(db),
  );
  const healthMonitor = createHealthMonitor(() => readiness(db), HEALTH_INTERVAL_MS);
  await healthMonitor.refresh();
  const wiring: Wiring = {
    config,
    logger,
    clock,
    identity,
    ocspStaple,
    observer: metrics,
    health: healthMonitor,
    reflection: createReflection(join(packageRoot(), 'proto')),
    closers,
  };
  let capsulePorts: CapsulePorts | undefined;
  let sharePorts: SharePorts | undefined;
  let managementPort: number | undefined;
  const startedAt = new Date().toISOString();
  try {
    if (config.capsules.enabled) {
      capsulePorts = await startCapsuleServer(wiring, capsuleStore, clientCa, assertClientTrusted);
    }
    if (config.shares.enabled) {
      const trust = createCertificateTrust({
        anchors: trustedIssuers.map((pem) => new X509Certificate(pem)),
        revocation,
        label: 'auth certificate',
        logger: trustLogger,
      });
      sharePorts = await startSharesServer(wiring, shareStore, trust);
    }
    if (config.management.enabled) {
      const management = await startManagementListener({
        host: config.management.host,
        port: config.management.port,
        metricsToken: config.management.metricsToken,
        registry: metrics.registry,
        readiness: () => readiness(db),
        info: () => ({ name: PACKAGE.name, version: PACKAGE.version, node: process.version, startedAt }),
        logger: logger.child({ component: 'management' }),
      });
      closers.push(() => management.close());
      managementPort = management.port;
    }
  } catch (error) {
    stapler?.stop();
    healthMonitor.stop();
    await closeAll();
    await db.destroy();
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`cannot listen on ${config.host}: ${(error as Error).message}`);
    }
    throw error;
  }

  const staleNonces: ExpiredRowDeleter = { deleteExpired: (now, limit) => shareStore.deleteStaleNonces(now, limit) };
  const runCleanup = (): Promise<number> =>
    runExpiryCleanup([capsuleStore, shareStore, staleNonces], clock, {
      batchSize: config.cleanup.batchSize,
      maxBatches: config.cleanup.maxBatches,
    });
  const cleanup = createPeriodicTask(
    config.cleanup.interval,
    async () => {
      const deleted = await runCleanup();
      if (deleted > 0) {
        metrics.cleanupDeleted(deleted);
        logger.info({ deleted }, 'expired rows deleted');
      }
    },
    (error) => logger.warn({ err: error }, 'cleanup run failed; it will be retried'),
  );

  return {
    capsulePorts,
    sharePorts,
    managementPort,
    revocationStats: revocation.stats,
    database: db,
    runCleanup,
    refreshHealth: () => healthMonitor.refresh(),
    close: async () => {
      stapler?.stop();
      healthMonitor.stop();
      await cleanup.stop();
      await closeAll();
      await db.destroy();
    },
  };
}
