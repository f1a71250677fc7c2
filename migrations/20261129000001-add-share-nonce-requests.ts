import type { Knex } from 'knex';

/**
 * `key_shares.nonce_requests`: how many nonce requests a share has had. The store increments it in the transaction
 * that counts the share's live nonces and inserts a new one, so that two such transactions for one share always
 * write the same row: on one server the second waits for the first's row lock; on a Galera cluster, where locks are
 * local to a node, the second fails certification at commit and is run again. Without a common written row, two
 * nodes would each count 15 live nonces and each insert a 16th (inserts of different rows do not conflict).
 */
export const name = '20261129000001-add-share-nonce-requests';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('key_shares', (table) => {
    table.bigInteger('nonce_requests').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('key_shares', (table) => {
    table.dropColumn('nonce_requests');
  });
}
