import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createDatabase, poolUse } from '../../src/storage/database.js';

const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

/**
 * The project rule "no private internals of dependencies, or pinned exactly with a test that fails loudly on
 * upgrade" (issue 10 point 4). What is left of such reads is here, each with the pin that holds it.
 */
describe('dependency internals', () => {
  it('reads no private member of grpc-js or zod anywhere in src (the gRPC listener uses the connection injector)', () => {
    const offending = sourceFiles('src').filter((file) =>
      /\bhttp2Servers\b|\b_equals\b|\._zod\b|_getConstructorOptions|_getSecureContextOptions/.test(
        readFileSync(file, 'utf8'),
      ),
    );
    expect(offending).to.deep.equal([]);
  });

  it('pins knex to the exact version installed, because the storage reads client.pool and client.config', () => {
    expect(packageJson.dependencies.knex).to.equal(installedVersion('knex'));
  });

  it("reads the pool's use from knex's client.pool (numUsed, numFree, numPendingAcquires)", async () => {
    const db = createDatabase({ url: 'sqlite::memory:' });
    try {
      await db.raw('select 1');
      const pool = (db.client as { pool?: Record<string, unknown> }).pool;
      for (const method of ['numUsed', 'numFree', 'numPendingAcquires']) {
        expect(typeof pool?.[method], `knex client.pool.${method}`).to.equal('function');
      }
      expect(poolUse(db)).to.deep.equal({ used: 0, free: 1, pendingAcquires: 0 });
    } finally {
      await db.destroy();
    }
  });

  it("finds the dialect of a MySQL database in knex's client.config.client (the share store's SQL depends on it)", async () => {
    // Knex connects lazily: nothing listens on this port, and nothing is asked of it.
    const db = createDatabase({ url: 'mysql://nobody@127.0.0.1:9/none' });
    try {
      expect((db.client as { config?: { client?: unknown } }).config?.client).to.equal('mysql2');
    } finally {
      await db.destroy();
    }
  });
});
