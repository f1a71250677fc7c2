import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { createConnection } from 'mysql2/promise';
import { migrationSource } from '../../migrations/index.js';

export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/db` or `sqlite:/absolute/path.sqlite` (or `sqlite::memory:`). */
  readonly url: string;
  readonly poolMax?: number;
  /**
   * How long one store operation (connection wait included) may take before it fails as `unavailable`: a
   * database that stops answering (frozen, partitioned) must give 503 / UNAVAILABLE, not a hung request.
   */
  readonly queryTimeoutMs?: number;
  /** Where Knex's own warnings go; without it Knex prints them (with stack traces) to the console. */
  readonly logger?: { warn(object: object, message: string): void; debug(object: object, message: string): void };
}

type KnexLog = NonNullable<Knex.Config['log']>;

const ACQUIRE_ERROR = 'Acquire connection error: ';

const knexLog = (logger: DatabaseOptions['logger']): KnexLog => {
  const text = (message: unknown): string => (message instanceof Error ? message.message : String(message));
  return {
    warn: (message: unknown) => {
      // Knex warns with the stack of every failed connection attempt, then throws the same error to the caller,
      // which reports it (one line at start, a 503 / UNAVAILABLE and its log line later): keep only a debug line.
      const warning = text(message);
      if (warning.startsWith(ACQUIRE_ERROR)) {
        logger?.debug({ knex: warning.split('\n')[0] }, 'database connection failed');
      } else {
        logger?.warn({ knex: warning }, 'database warning');
      }
    },
    error: (message: unknown) => logger?.warn({ knex: text(message) }, 'database error'),
    deprecate: (method: string, alternative: string) =>
      logger?.warn({ knex: `${method} is deprecated, use ${alternative}` }, 'database warning'),
    debug: (message: unknown) => logger?.debug({ knex: text(message) }, 'database debug'),
  };
};

export type Database = Knex;

/** The default of `database.queryTimeout` (config-schema.ts holds the configurable one). */
const DEFAULT_QUERY_TIMEOUT_MS = 5000;

const queryTimeouts = new WeakMap<Database, number>();

/** The URL of each MySQL-protocol database this module opened (the migration lock needs a session of its own). */
const mysqlUrls = new WeakMap<Database, string>();

/** The bound on one store operation of this database (see DatabaseOptions.queryTimeoutMs). */
export const queryTimeoutOf = (db: Database): number => queryTimeouts.get(db) ?? DEFAULT_QUERY_TIMEOUT_MS;

/**
 * `wsrep_sync_wait` for every MySQL-protocol session: 3 = reads (SELECT, BEGIN) and UPDATE/DELETE wait until the
 * node has applied every write-set the cluster had committed when the statement started. On a Galera cluster this is
 * what makes a capsule or nonce stored through one node visible at once through any other (read-after-write across
 * nodes, also during a single-writer fail-over, when the next node may still be applying the last acknowledged
 * writes); the nonce's DELETE must see the nonce's INSERT. A MariaDB server without Galera ignores it (wsrep_on is
 * OFF); MySQL has no such variable, and the error that says so is ignored.
 */
const WSREP_SYNC_WAIT = 3;
const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

interface MySqlSession {
  query(sql: string, callback: (error: (Error & { errno?: number }) | null) => void): void;
}

const prepareMySqlSession = (session: MySqlSession, done: (error: Error | null, session: MySqlSession) => void) =>
  session.query(`SET SESSION wsrep_sync_wait = ${WSREP_SYNC_WAIT}`, (error) =>
    done(error && error.errno !== ER_UNKNOWN_SYSTEM_VARIABLE ? error : null, session),
  );

const MIGRATIONS_TABLE = 'knex_migrations';

/**
 * Opens a Knex database from a URL. MySQL/MariaDB is the production store; SQLite (better-sqlite3) is the
 * embedded zero-configuration default. Times are stored as epoch milliseconds, so no session time zone matters;
 * the MySQL session is still pinned to UTC so that anything an operator inspects reads the same everywhere.
 */
export function createDatabase(options: DatabaseOptions): Database {
  const db = openKnex(options);
  queryTimeouts.set(db, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
  if (options.url.startsWith('mysql://')) {
    mysqlUrls.set(db, options.url);
  }
  return db;
}

function openKnex({ url, poolMax = 10, logger, queryTimeoutMs = DEFAULT_QUERY_TIMEOUT_MS }: DatabaseOptions): Knex {
  const log = knexLog(logger);
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length);
    // A missing folder is a mistake in the path (or a volume not mounted): creating it would hide the mistake
    // and put the data somewhere nobody backs up.
    if (filename !== ':memory:' && !existsSync(dirname(filename))) {
      throw new Error(`the folder ${dirname(filename)} does not exist`);
    }
    return knexFactory({
      client: 'better-sqlite3',
      log,
      connection: { filename },
      useNullAsDefault: true,
      // One connection: SQLite serialises writers anyway, and one connection sees its own :memory: database.
      pool: {
        min: 1,
        max: 1,
        afterCreate: (connection: { pragma(sql: string): unknown }, done: (error: Error | null) => void) => {
          connection.pragma('journal_mode = WAL');
          connection.pragma('busy_timeout = 5000');
          connection.pragma('foreign_keys = ON');
          done(null);
        },
      },
      migrations: { migrationSource, tableName: MIGRATIONS_TABLE },
    });
  }
  if (url.startsWith('mysql://')) {
    return knexFactory({
      client: 'mysql2',
      log,
      connection: { uri: url, timezone: 'Z', charset: 'utf8mb4', connectTimeout: 5000 } as Knex.MySql2ConnectionConfig,
      pool: { min: 0, max: poolMax, afterCreate: prepareMySqlSession },
      // Waiting for a pooled connection is part of an operation's time: no longer than the operation may take.
      acquireConnectionTimeout: queryTimeoutMs,
      migrations: { migrationSource, tableName: MIGRATIONS_TABLE },
    });
  }
  throw new Error('database url must start with mysql:// or sqlite:');
}

/**
 * How the connection pool is used now (for metrics). Knex has no documented API for this: it reads the tarn pool
 * its typings declare on `client.pool`, so knex is pinned to an exact version in package.json and
 * test/unit/dependency-internals.test.ts fails loudly if an upgrade moves it.
 */
export function poolUse(db: Database): { used: number; free: number; pendingAcquires: number } {
  const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
  return pool
    ? { used: pool.numUsed(), free: pool.numFree(), pendingAcquires: pool.numPendingAcquires() }
    : { used: 0, free: 0, pendingAcquires: 0 };
}

/** The default of `database.migrationLockTimeout`. */
const DEFAULT_MIGRATION_LOCK_TIMEOUT_MS = 120_000;

/** The MySQL named lock that serialises instances migrating one database (GET_LOCK is server-wide). */
const MIGRATION_LOCK_NAME = 'cdoc2_keyserver_migrations';

export class MigrationLockTimeoutError extends Error {
  override readonly name = 'MigrationLockTimeoutError';
}

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/**
 * What a concurrent instance's migration looks like from here: Knex's own lock is taken ("Migration table is
 * already locked"), or Knex's creation of its tables raced with another instance's (table exists, duplicate
 * lock row, SQLite busy). Waiting and looking again is the answer to each.
 */
const isConcurrentMigration = (error: unknown): boolean =>
  (error instanceof Error && error.name === 'MigrationLocked') ||
  ['ER_TABLE_EXISTS_ERROR', 'ER_DUP_ENTRY', 'ER_LOCK_DEADLOCK', 'SQLITE_BUSY'].includes(String(errorCode(error))) ||
  (error instanceof Error && /already exists/.test(error.message) && errorCode(error) === 'SQLITE_ERROR');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies every pending migration and returns the names of those applied. Several instances may start together on one empty database (README
 * "Scaling out"): on MySQL/MariaDB they first queue on a server-wide named lock (GET_LOCK), so that exactly one
 * creates Knex's bookkeeping tables and migrates while the others wait and then find nothing left to do. Where
 * that lock is not available (SQLite, a Galera node refusing GET_LOCK), a concurrent migration is recognised by
 * its error and retried. Either way the wait is bounded by `lockTimeoutMs`, then fails with a message that says
 * what to look at.
 */
export async function migrateLatest(
  db: Database,
  { lockTimeoutMs = DEFAULT_MIGRATION_LOCK_TIMEOUT_MS }: { lockTimeoutMs?: number } = {},
): Promise<readonly string[]> {
  const deadline = Date.now() + lockTimeoutMs;
  const release = await takeNamedMigrationLock(db, lockTimeoutMs);
  try {
    for (;;) {
      try {
        // The names of the migrations applied: none when the schema was current.
        const [, applied] = (await db.migrate.latest()) as [number, string[]];
        return applied;
      } catch (error) {
        if (!isConcurrentMigration(error)) {
          throw error;
        }
        if (Date.now() > deadline) {
          throw new MigrationLockTimeoutError(
            `the migration lock stayed taken for ${lockTimeoutMs} ms: another instance is migrating, or one ` +
              'stopped while migrating (then check the schema and set is_locked = 0 in knex_migrations_lock)',
            { cause: error },
          );
        }
        await sleep(100 + Math.random() * 200);
      }
    }
  } finally {
    await release();
  }
}

/**
 * GET_LOCK on a connection of its own (the lock belongs to the session, and the migration itself needs the
 * pool). Returns how to release it; a server that refuses named locks (Galera may) leaves the retry alone.
 */
async function takeNamedMigrationLock(db: Database, lockTimeoutMs: number): Promise<() => Promise<void>> {
  const uri = mysqlUrls.get(db);
  if (uri === undefined) {
    return async () => {};
  }
  const connection = await createConnection({ uri, connectTimeout: 5000 });
  try {
    const [rows] = await connection.query('SELECT GET_LOCK(?, ?) AS got', [
      MIGRATION_LOCK_NAME,
      Math.ceil(lockTimeoutMs / 1000),
    ]);
    if ((rows as Array<{ got: number | null }>)[0]?.got !== 1) {
      await connection.end();
      throw new MigrationLockTimeoutError(
        `another instance has been migrating this database for more than ${lockTimeoutMs} ms ` +
          `(it holds the MySQL lock ${MIGRATION_LOCK_NAME}); try again when it has finished`,
      );
    }
  } catch (error) {
    if (error instanceof MigrationLockTimeoutError) {
      throw error;
    }
    connection.destroy();
    return async () => {};
  }
  // Ending the session releases the lock.
  return () => connection.end().catch(() => connection.destroy());
}

export async function migrateRollbackAll(db: Database): Promise<void> {
  await db.migrate.rollback(undefined, true);
}

/** True when every migration this build knows has been applied. */
export async function isSchemaCurrent(db: Database): Promise<boolean> {
  const [, pending] = (await db.migrate.list()) as [unknown[], unknown[]];
  return pending.length === 0;
}
