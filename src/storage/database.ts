import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';

export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/db` or `sqlite:/absolute/path.sqlite` (or `sqlite::memory:`). */
  readonly url: string;
  readonly poolMax?: number;
  /** Where Knex's own warnings go; without it Knex prints them (with stack traces) to the console. */
  readonly logger?: { warn(object: object, message: string): void; debug(object: object, message: string): void };
}

type KnexLog = NonNullable<Knex.Config['log']>;

const knexLog = (logger: DatabaseOptions['logger']): KnexLog => {
  const text = (message: unknown): string => (message instanceof Error ? message.message : String(message));
  return {
    warn: (message: unknown) => logger?.warn({ knex: text(message) }, 'database warning'),
    error: (message: unknown) => logger?.warn({ knex: text(message) }, 'database error'),
    deprecate: (method: string, alternative: string) =>
      logger?.warn({ knex: `${method} is deprecated, use ${alternative}` }, 'database warning'),
    debug: (message: unknown) => logger?.debug({ knex: text(message) }, 'database debug'),
  };
};

export type Database = Knex;

const MIGRATIONS_TABLE = 'knex_migrations';

/**
 * Opens a Knex database from a URL. MySQL/MariaDB is the production store; SQLite (better-sqlite3) is the
 * embedded zero-configuration default. Times are stored as epoch milliseconds, so no session time zone matters;
 * the MySQL session is still pinned to UTC so that anything an operator inspects reads the same everywhere.
 */
export function createDatabase({ url, poolMax = 10, logger }: DatabaseOptions): Database {
  const log = knexLog(logger);
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length);
    if (filename !== ':memory:') {
      mkdirSync(dirname(filename), { recursive: true });
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
      pool: { min: 0, max: poolMax },
      acquireConnectionTimeout: 5000,
      migrations: { migrationSource, tableName: MIGRATIONS_TABLE },
    });
  }
  throw new Error('database url must start with mysql:// or sqlite:');
}

/** How the connection pool is used now (for metrics). */
export function poolUse(db: Database): { used: number; free: number; pendingAcquires: number } {
  const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
  return pool
    ? { used: pool.numUsed(), free: pool.numFree(), pendingAcquires: pool.numPendingAcquires() }
    : { used: 0, free: 0, pendingAcquires: 0 };
}

export async function migrateLatest(db: Database): Promise<void> {
  await db.migrate.latest();
}

export async function migrateRollbackAll(db: Database): Promise<void> {
  await db.migrate.rollback(undefined, true);
}

/** True when every migration this build knows has been applied. */
export async function isSchemaCurrent(db: Database): Promise<boolean> {
  const [, pending] = (await db.migrate.list()) as [unknown[], unknown[]];
  return pending.length === 0;
}
