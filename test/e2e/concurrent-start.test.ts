import { expect } from 'chai';
import { createDatabase, isSchemaCurrent } from '../../src/storage/database.js';
import { createTestDatabase } from '../support/mysql.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

const INSTANCES = 5;
const ROUNDS = 5;

/**
 * Instances started at the same moment on one empty database (README "Scaling out"): one migrates, the others
 * wait for it and find nothing left to do; none may exit.
 */
describe('instances starting together on an empty database', function () {
  this.timeout(600_000);
  let pki: TestPki;

  before(async () => {
    pki = await getTestPki();
  });

  it(`all ${INSTANCES} start, in each of ${ROUNDS} rounds, and the schema is current`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const database = await createTestDatabase();
      const started: ServerProcess[] = [];
      try {
        const outcomes = await Promise.allSettled(
          Array.from({ length: INSTANCES }, () =>
            startServerProcess(pki, database.url, [], { startTimeoutMs: 120_000 }).then((server) => {
              started.push(server);
              return server;
            }),
          ),
        );
        const failures = outcomes.flatMap((outcome) =>
          outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : [],
        );
        expect(failures, `round ${round}`).to.deep.equal([]);
        const db = createDatabase({ url: database.url });
        try {
          expect(await isSchemaCurrent(db)).to.equal(true);
          const locks = await db('knex_migrations_lock').select('is_locked');
          expect(locks, 'one unlocked lock row').to.deep.equal([{ is_locked: 0 }]);
        } finally {
          await db.destroy();
        }
      } finally {
        const codes = await Promise.all(started.map((server) => server.stop('SIGTERM')));
        await database.drop();
        expect(codes.every((code) => code === 0)).to.equal(true);
      }
    }
  });
});
