import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/resolve-config.js';
import { runExpiryCleanup, type ExpiredRowDeleter } from '../domain/capsules/expiry-cleanup.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { isSchemaCurrent, type Database } from '../storage/database.js';
import { isWsrepNotReady } from '../storage/database-errors.js';
import type { ShareStore } from '../domain/shares/share-store.js';
import { startManagementListener, type Readiness } from '../transport/management/management-server.js';
import { createHealthMonitor, type HealthMonitor } from './health-monitor.js';
import { packageRoot } from './paths.js';
import { createPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { Listener } from './wiring.js';

/** How often the gRPC health service's database verdict is refreshed. */
const HEALTH_INTERVAL_MS = 5000;

/** The package's name and version, for /info. */
const PACKAGE = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/**
 * Readiness (README "Health, metrics, logs"): the database answers and every migration this build knows is
 * applied. Failures are reported as short reasons; the full error goes to the log through the database logger.
 * The whole check is bounded by `timeoutMs`: a database that does not answer is not ready, and says so quickly.
 */
async function readiness(db: Database, timeoutMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Readiness>((resolve) => {
    timer = setTimeout(
      () => resolve({ ready: false, checks: { database: 'no answer', schema: 'unknown' } }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([checkDatabase(db, timeoutMs), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkDatabase(db: Database, timeoutMs: number): Promise<Readiness> {
  try {
    // Knex's own timeout also gives up the pooled connection of an unanswered query, so probes cannot pile up.
    await db.raw('select 1').timeout(timeoutMs);
  } catch (error) {
    // A Galera node outside the Primary Component, or still joining, answers but refuses statements: errno 1047, or,
    // under the sessions' wsrep_sync_wait, a causal wait that cannot complete (a lock wait timeout on `select 1`,
    // which takes no lock).
    const notReady = isWsrepNotReady(error) || (error as { code?: unknown }).code === 'ER_LOCK_WAIT_TIMEOUT';
    const database = notReady ? 'cluster node not ready' : 'unreachable';
    return { ready: false, checks: { database, schema: 'unknown' } };
  }
  try {
    return (await isSchemaCurrent(db))
      ? { ready: true, checks: { database: 'ok', schema: 'ok' } }
      : { ready: false, checks: { database: 'ok', schema: 'migrations pending' } };
  } catch {
    return { ready: false, checks: { database: 'ok', schema: 'unreadable' } };
  }
}

/** The database verdict for the gRPC health service, checked once now and then every few seconds. */
export async function startHealthMonitor(db: Database, timeoutMs: number): Promise<HealthMonitor> {
  const monitor = createHealthMonitor(() => readiness(db, timeoutMs), HEALTH_INTERVAL_MS);
  await monitor.refresh();
  return monitor;
}

/** The management listener (health, readiness, metrics, info), when it is enabled. */
export function startManagement(
  config: ResolvedConfig,
  db: Database,
  metrics: Metrics,
  logger: Logger,
): Promise<Listener> | undefined {
  if (!config.management.enabled) {
    return undefined;
  }
  const startedAt = new Date().toISOString();
  return startManagementListener({
    host: config.management.host,
    port: config.management.port,
    metricsToken: config.management.metricsToken,
    registry: metrics.registry,
    readiness: () => readiness(db, config.database.readinessTimeout),
    info: () => ({ name: PACKAGE.name, version: PACKAGE.version, node: process.version, startedAt }),
    logger: logger.child({ component: 'management' }),
  });
}

export interface Cleanup extends PeriodicTask {
  /** Runs one cleanup pass now (the periodic task runs the same). */
  run(): Promise<number>;
}

/** The periodic deletion of expired capsules, shares and stale nonces. */
export function startCleanup(
  config: ResolvedConfig,
  deleters: { capsules: ExpiredRowDeleter; shares: ShareStore },
  { clock, metrics, logger }: { clock: Clock; metrics: Metrics; logger: Logger },
): Cleanup {
  const staleNonces: ExpiredRowDeleter = {
    deleteExpired: (now, limit) => deleters.shares.deleteStaleNonces(now, limit),
  };
  const run = (): Promise<number> =>
    runExpiryCleanup([deleters.capsules, deleters.shares, staleNonces], clock, {
      batchSize: config.cleanup.batchSize,
      maxBatches: config.cleanup.maxBatches,
    });
  const task = createPeriodicTask(
    config.cleanup.interval,
    async () => {
      const deleted = await run();
      if (deleted > 0) {
        metrics.cleanupDeleted(deleted);
        logger.info({ deleted }, 'expired rows deleted');
      }
    },
    (error) => logger.warn({ err: error }, 'cleanup run failed; it will be retried'),
  );
  return { run, stop: () => task.stop() };
}
