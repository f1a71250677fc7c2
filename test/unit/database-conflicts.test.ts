import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import { CONFLICT_ATTEMPTS, translateDatabaseError, withDatabaseErrors } from '../../src/storage/database-errors.js';
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

  it(`gives up after ${CONFLICT_ATTEMPTS} runs that all conflict, with 'unavailable' (503), never the driver error`, async () => {
    let runs = 0;
    const error = await rejectionOf(
      withDatabaseErrors(db, () => {
        runs += 1;
        return Promise.reject(deadlock());
      }),
    );
    expect(runs).to.equal(CONFLICT_ATTEMPTS);
    expect(error).to.be.instanceOf(DomainError);
    expect((error as DomainError).code).to.equal('unavailable');
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
