import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import { translateDatabaseError, withDatabaseErrors } from '../../src/storage/database-errors.js';
import { createDatabase } from '../../src/storage/database.js';
import { rejectionOf } from '../support/rejections.js';

/** An error shaped like mysql2's: a message, a symbolic code and the server's errno. */
const driverError = (code: string, errno: number, message: string): Error =>
  Object.assign(new Error(message), { code, errno });

const deadlock = (): Error =>
  driverError('ER_LOCK_DEADLOCK', 1213, 'Deadlock found when trying to get lock; try restarting transaction');

describe('Database write conflicts and Galera refusals', () => {
  // Only its query timeout (the default) is read: the operations below never touch it.
  const db = createDatabase({ url: 'sqlite::memory:' });
  after(() => db.destroy());

  it('runs the operation again after a deadlock (a Galera certification conflict) and returns its answer', async () => {
    let runs = 0;
    const answer = await withDatabaseErrors(db, () => {
      runs += 1;
      return runs < 3 ? Promise.reject(deadlock()) : Promise.resolve('the answer of the third run');
    });
    expect(answer).to.equal('the answer of the third run');
    expect(runs).to.equal(3);
  });

  it("keeps running a conflicting operation until its deadline, then gives up with 'unavailable' (503), never the driver error", async () => {
    const QUERY_TIMEOUT_MS = 1500;
    const short = createDatabase({ url: 'sqlite::memory:', queryTimeoutMs: QUERY_TIMEOUT_MS });
    try {
      const runsSeen: number[] = [];
      const started = Date.now();
      const error = await rejectionOf(
        withDatabaseErrors(short, (_deadline, run) => {
          runsSeen.push(run);
          return Promise.reject(deadlock());
        }),
      );
      const elapsed = Date.now() - started;
      expect(error).to.be.instanceOf(DomainError);
      expect((error as DomainError).code).to.equal('unavailable');
      // More runs than the 8 a fixed limit allowed (the pauses grow to at most 200 ms), each told its number.
      expect(runsSeen.length).to.be.above(8);
      expect(runsSeen).to.deep.equal(runsSeen.map((_, i) => i + 1));
      // Given up because the deadline came, not before: no new run starts that could not commit in time.
      expect(elapsed).to.be.at.least(QUERY_TIMEOUT_MS - 2 * 200 - 100);
    } finally {
      await short.destroy();
    }
  });

  it('does not run the operation again for any other failure', async () => {
    let runs = 0;
    const error = await rejectionOf(
      withDatabaseErrors(db, () => {
        runs += 1;
        return Promise.reject(driverError('ER_NO_SUCH_TABLE', 1146, "Table 'cdoc2.key_capsules' doesn't exist"));
      }),
    );
    expect(runs).to.equal(1);
    expect(error).to.not.be.instanceOf(DomainError);
  });

  it("maps a non-Primary / joining Galera node's 1047 (WSREP has not yet prepared node) to 'unavailable'", () => {
    const refused = translateDatabaseError(
      driverError('ER_UNKNOWN_COM_ERROR', 1047, 'WSREP has not yet prepared node for application use'),
    );
    expect(refused).to.be.instanceOf(DomainError);
    expect((refused as DomainError).code).to.equal('unavailable');
  });

  it('passes any other 1047 (a protocol error: a bug) through unchanged', () => {
    const other = driverError('ER_UNKNOWN_COM_ERROR', 1047, 'Unknown command');
    expect(translateDatabaseError(other)).to.equal(other);
  });

  it("maps a session killed by a node's shutdown to 'unavailable'", () => {
    const killed = translateDatabaseError(driverError('ER_CONNECTION_KILLED', 1927, 'Connection was killed'));
    expect((killed as DomainError).code).to.equal('unavailable');
  });

  it("maps a statement refused because its connection had gone (mysql2 fatal, no errno) to 'unavailable'", () => {
    const closed = Object.assign(new Error("ROLLBACK - Can't add new command when connection is in closed state"), {
      fatal: true,
    });
    expect((translateDatabaseError(closed) as DomainError).code).to.equal('unavailable');
  });

  it('passes a fatal error the server answered (access denied at login: a configuration bug) through unchanged', () => {
    const denied = Object.assign(driverError('ER_ACCESS_DENIED_ERROR', 1045, 'Access denied'), { fatal: true });
    expect(translateDatabaseError(denied)).to.equal(denied);
  });
});
