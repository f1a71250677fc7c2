import { resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { ensureDevPki } from '../pki/dev-pki.js';
import { createDatabase, migrateLatest, type Database } from '../storage/database.js';
import { databaseUnusable, redactUrl } from './database-setup.js';

/** `cdoc2-keyserver migrate`: applies pending migrations, reading only the database section. */
export async function migrate(configFile: string | undefined): Promise<void> {
  const { config } = loadConfig(configFile, process.env, 'migrate');
  const url = redactUrl(config.database.url);
  let db: Database | undefined;
  let applied: readonly string[];
  try {
    db = createDatabase({ url: config.database.url });
    applied = await migrateLatest(db, { lockTimeoutMs: config.database.migrationLockTimeout });
  } catch (error) {
    throw databaseUnusable(config.database.url, error);
  } finally {
    await db?.destroy();
  }
  process.stdout.write(
    applied.length === 0
      ? `nothing to apply: ${url} is at the latest schema\n`
      : `applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${url}: ${applied.join(', ')}\n`,
  );
}

/** `cdoc2-keyserver dev-pki DIR`: a development PKI, kept as it is when DIR already holds one. */
export async function devPki(dir: string): Promise<void> {
  const { paths, created } = await ensureDevPki(resolve(dir));
  process.stdout.write(`${created ? 'created' : 'kept the existing'} development PKI:\n`);
  for (const [name, path] of Object.entries(paths)) {
    process.stdout.write(`  ${name.padEnd(10)} ${path}\n`);
  }
}
