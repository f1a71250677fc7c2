import type { Knex } from 'knex';

/**
 * Key shares and their nonces (README "Storage"). As for capsules: ids and nonces compare exactly (binary on
 * MySQL-compatible servers), times are UTC epoch milliseconds, expiry columns are indexed for the cleanup.
 * A share may have several live nonces (the reference allows one, with UNIQUE(share_id)); the bound is enforced
 * by the store, atomically with the insert.
 */
export const name = '20261122000002-create-key-shares';

export async function up(knex: Knex): Promise<void> {
  const mysql = (knex.client as { config: { client: string } }).config.client === 'mysql2';
  const exactString = (table: Knex.CreateTableBuilder, column: string, length: number): Knex.ColumnBuilder =>
    mysql ? table.binary(column, length) : table.string(column, length);

  await knex.schema.createTable('key_shares', (table) => {
    exactString(table, 'share_id', 34).primary();
    table.binary('share', 128).notNullable();
    exactString(table, 'recipient', 32).notNullable();
    table.bigInteger('expires_at').notNullable();
    table.boolean('expiry_adjusted').notNullable();
    table.bigInteger('created_at').notNullable();
    table.index(['expires_at'], 'key_shares_expires_at_idx');
  });
  await knex.schema.createTable('key_share_nonces', (table) => {
    exactString(table, 'share_id', 34).notNullable();
    exactString(table, 'nonce', 64).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.primary(['share_id', 'nonce']);
    table.foreign('share_id', 'key_share_nonces_share_fk').references('key_shares.share_id').onDelete('CASCADE');
    table.index(['expires_at'], 'key_share_nonces_expires_at_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('key_share_nonces');
  await knex.schema.dropTable('key_shares');
}
