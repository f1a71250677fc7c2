import type { Knex } from 'knex';
import * as createKeyCapsules from './20261122000001-create-key-capsules.js';
import * as createKeyShares from './20261122000002-create-key-shares.js';
import * as addShareNonceRequests from './20261129000001-add-share-nonce-requests.js';

interface Migration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Every migration, in order. Listed in code rather than discovered on disk so that the same list runs from
 * TypeScript sources (tests) and compiled JavaScript (production) alike. Append; never edit a released one.
 */
const MIGRATIONS: readonly Migration[] = [createKeyCapsules, createKeyShares, addShareNonceRequests];

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: () => Promise.resolve([...MIGRATIONS]),
  getMigrationName: (migration) => migration.name,
  getMigration: (migration) => Promise.resolve(migration),
};

/** Every migration's name, in order. */
export const migrationNames = (): string[] => MIGRATIONS.map((migration) => migration.name);
