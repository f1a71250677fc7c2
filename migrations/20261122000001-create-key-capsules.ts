import type { Knex } from 'knex';

/**
 * Key capsules (README "Storage"). Expiry and creation times are UTC instants stored as epoch milliseconds
 * (BIGINT): unambiguous on MySQL and SQLite alike, with no session time zone involved (the reference stores a
 * time-zone-less timestamp). The expiry index serves both the cleanup's range scan and nothing else, since reads
 * go by primary key.
 */
export const name = '20261122000001-create-key-capsules';

export async function up(knex: Knex): Promise<void> {
  // Ids must compare exactly: MySQL's default collations ignore case and trailing spaces, so on MySQL-compatible
  // servers the id is a binary string (VARBINARY); SQLite's TEXT already compares byte for byte.
  const mysql = (knex.client as { config: { client: string } }).config.client === 'mysql2';
  await knex.schema.createTable('key_capsules', (table) => {
    if (mysql) {
      table.binary('transaction_id', 34).primary();
    } else {
      table.string('transaction_id', 34).primary();
    }
    table.string('capsule_type', 16).notNullable();
    table.binary('recipient_id', 2100).notNullable();
    table.binary('ephemeral_key_material', 2100).notNullable();
    table.bigInteger('expires_at').notNullable();
    table.boolean('expiry_adjusted').notNullable();
    table.bigInteger('created_at').notNullable();
    table.index(['expires_at'], 'key_capsules_expires_at_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('key_capsules');
}
