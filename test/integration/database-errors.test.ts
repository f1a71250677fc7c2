import { expect } from 'chai';
import { type CapsuleStore } from '../../src/domain/capsules/capsule-store.js';
import { DomainError, IdConflictError } from '../../src/domain/errors.js';
import { createDatabase, migrateLatest, migrateRollbackAll } from '../../src/storage/database.js';
import { createKnexCapsuleStore } from '../../src/storage/knex-capsule-store.js';
import { rejectionOf } from '../support/rejections.js';
import { describeEachBackend, makeCapsule, newId } from './backends.js';

/** Records what Knex reports through the logger createDatabase gives it, by level. */
function knexLogRecorder() {
  const warnings: string[] = [];
  const debug: string[] = [];
  const record =
    (into: string[]) =>
    (object: object): void => {
      into.push(String((object as { knex?: unknown }).knex));
    };
  return { warnings, debug, logger: { warn: record(warnings), debug: record(debug) } };
}

describe('Database errors', () => {
  describeEachBackend((backend) => {
    if (backend.kind === 'mariadb') {
      describe('a server that does not answer', () => {
        // Nothing listens on port 1: the connection is refused at once, so nothing here waits for a timeout.
        const UNREACHABLE_URL = 'mysql://root@127.0.0.1:1/nothing';
        const operations: [string, (store: CapsuleStore) => Promise<unknown>][] = [
          ['findUnexpired', (store) => store.findUnexpired(newId(), new Date())],
          ['insert', (store) => store.insert(makeCapsule())],
          ['deleteExpired', (store) => store.deleteExpired(new Date(), 10)],
        ];

        for (const [name, operation] of operations) {
          it(`makes ${name} reject with an 'unavailable' DomainError that names no host and no SQL`, async () => {
            const { warnings, debug, logger } = knexLogRecorder();
            const unreachable = createDatabase({ url: UNREACHABLE_URL, logger });
            try {
              const error = await rejectionOf(operation(createKnexCapsuleStore(unreachable)));
              // Knex's own complaint reaches the server's logger, not the console, as one debug line: the failure
              // itself is reported by whoever called (one line at start, a 503 and its log line later).
              expect(debug.some((line) => line.includes('ECONNREFUSED'))).to.equal(true);
              expect(debug.every((line) => !line.includes('\n'))).to.equal(true);
              expect(warnings.filter((warning) => warning.includes('ECONNREFUSED'))).to.deep.equal([]);

              expect(error).to.be.instanceOf(DomainError);
              const domainError = error as DomainError;
              expect(domainError.code).to.equal('unavailable');
              for (const leak of ['127.0.0.1', ':1', 'nothing', 'root', 'key_capsules', 'select', 'insert', 'delete']) {
                expect(domainError.message.toLowerCase()).to.not.include(leak);
              }
            } finally {
              await unreachable.destroy();
            }
          });
        }
      });
    }

    describe('a database without the schema', () => {
      after(() => migrateLatest(backend.db));

      it('passes a missing table through as the driver error, not as unavailable or a conflict', async () => {
        await migrateRollbackAll(backend.db);

        const error = await rejectionOf(createKnexCapsuleStore(backend.db).findUnexpired(newId(), new Date()));

        expect(error).to.be.instanceOf(Error);
        expect(error).to.not.be.instanceOf(DomainError);
        expect(error).to.not.be.instanceOf(IdConflictError);
        expect((error as Error).message).to.include('key_capsules');
      });
    });
  });
});
