import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../migrations/index.js';

export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/db` or `sqlite:/absolute/path.sqlite` (or `sqlite::memory:`). */
  readonly url: string;
  readonly poolMax?: number;
}

export type Database = Knex;

const MIGRATIONS_TABLE = 'knex_migrations';

/**
 * Opens a Knex database from a URL. MySQL/MariaDB is the production store; SQLite (better-sqlite3) is the
 * embedded zero-configuration default. Times are stored as epoch milliseconds, so no session time zone matters;
 * the MySQL session is still pinned to UTC so that anything an operator inspects reads the same everywhere.
 */
export function createDatabase({ url, poolMax = 10 }: DatabaseOptions): Database {
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length);
    if (filename !== ':memory:') {
      mkdirSync(dirname(filename), { recursive: true });
    }
    return knexFactory({
      client: 'better-sqlite3',
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
      connection: { uri: url, timezone: 'Z', charset: 'utf8mb4', connectTimeout: 5000 } as Knex.MySql2ConnectionConfig,
      pool: { min: 0, max: poolMax },
      acquireConnectionTimeout: 5000,
      migrations: { migrationSource, tableName: MIGRATIONS_TABLE },
    });
  }
  throw new Error('database url must start with mysql:// or sqlite:');
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
