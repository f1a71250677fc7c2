import { ConfigError } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/resolve-config.js';
import type { Logger } from '../logging/logger.js';
import { createDatabase, migrateLatest, MigrationLockTimeoutError, type Database } from '../storage/database.js';

/** `mysql://user:secret@host/db` → `mysql://user:***@host/db`, for messages. */
export const redactUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/** One line naming the database (without its password) and why it cannot be used: a driver code or a reason. */
export function databaseUnusable(url: string, error: unknown): ConfigError {
  const code = (error as { code?: unknown }).code;
  return new ConfigError(
    `database.url: cannot use ${redactUrl(url)} (${typeof code === 'string' ? code : (error as Error).message})`,
  );
}

/** Opens the database and migrates it (or only checks that it answers, with `database.migrate: false`). */
export async function openDatabase(config: ResolvedConfig, logger: Logger): Promise<Database> {
  let db: Database | undefined;
  try {
    db = createDatabase({
      url: config.database.url,
      poolMax: config.database.pool.max,
      queryTimeoutMs: config.database.queryTimeout,
      logger,
    });
    await (config.database.migrate
      ? migrateLatest(db, { lockTimeoutMs: config.database.migrationLockTimeout })
      : db.raw('select 1'));
    return db;
  } catch (error) {
    await db?.destroy();
    if (error instanceof MigrationLockTimeoutError) {
      throw new ConfigError(`database.migrate: ${error.message}`);
    }
    throw databaseUnusable(config.database.url, error);
  }
}
