import type { ResolvedConfig } from '../config/resolve-config.js';
import { ConfigError } from '../config/load-config.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { Logger } from '../logging/logger.js';
import { createMetrics } from '../observability/metrics.js';
import type { RevocationStats } from '../pki/revocation-checker.js';
import { poolUse, type Database } from '../storage/database.js';
import { createKnexCapsuleStore } from '../storage/knex-capsule-store.js';
import { createKnexShareStore } from '../storage/knex-share-store.js';
import { createReflection } from '../transport/grpc/reflection.js';
import { startCapsuleServer, type CapsulePorts } from './capsules.js';
import { openDatabase } from './database-setup.js';
import { startRevocation } from './revocation-setup.js';
import { startCleanup, startHealthMonitor, startManagement } from './operations.js';
import { packageRoot } from './paths.js';
import { startSharesServer, type SharePorts } from './shares.js';
import { nodeRandom, type Listener, type Wiring } from './wiring.js';
import { join } from 'node:path';

export type { CapsulePorts, SharePorts };

export interface AppDependencies {
  readonly logger: Logger;
  /** Injected by tests to move time; the system clock otherwise. */
  readonly clock?: Clock;
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

/** Wires storage, domain and both transports from one resolved configuration, and starts every listener. */
export async function startApp(
  config: ResolvedConfig,
  { logger, clock = systemClock }: AppDependencies,
): Promise<RunningApp> {
  const db = await openDatabase(config, logger.child({ component: 'database' }));
  const { revocation, stapler } = startRevocation(config, clock, logger);
  const metrics = createMetrics(
    () => revocation.stats,
    () => poolUse(db),
  );
  const health = await startHealthMonitor(db, config.database.readinessTimeout);
  const listeners: Listener[] = [];
  const closeAll = async (): Promise<void> => {
    stapler?.stop();
    health.stop();
    await Promise.allSettled(listeners.splice(0).map((listener) => listener.close()));
  };
  const wiring: Wiring = {
    config,
    logger,
    clock,
    random: nodeRandom,
    revocation,
    ocspStaple: stapler ? () => stapler.response() : undefined,
    observer: metrics,
    refusals: metrics,
    connectionRefusals: metrics,
    connectionClosures: metrics,
    health,
    reflection: createReflection(join(packageRoot(), 'proto')),
    listen: async (start) => {
      const listener = await start;
      listeners.push(listener);
      return listener.port;
    },
  };
  const capsuleStore = createKnexCapsuleStore(db);
  const shareStore = createKnexShareStore(db);
  let capsulePorts: CapsulePorts | undefined;
  let sharePorts: SharePorts | undefined;
  let managementPort: number | undefined;
  try {
    capsulePorts = config.capsules.enabled ? await startCapsuleServer(wiring, capsuleStore) : undefined;
    sharePorts = config.shares.enabled ? await startSharesServer(wiring, shareStore) : undefined;
    const management = startManagement(config, db, metrics, logger);
    managementPort = management ? await wiring.listen(management) : undefined;
  } catch (error) {
    await closeAll();
    await db.destroy();
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new ConfigError(`cannot listen on ${config.host}: ${(error as Error).message}`);
    }
    throw error;
  }
  const cleanup = startCleanup(config, { capsules: capsuleStore, shares: shareStore }, { clock, metrics, logger });
  return {
    capsulePorts,
    sharePorts,
    managementPort,
    revocationStats: revocation.stats,
    database: db,
    runCleanup: () => cleanup.run(),
    refreshHealth: () => health.refresh(),
    close: async () => {
      await cleanup.stop();
      await closeAll();
      await db.destroy();
    },
  };
}
