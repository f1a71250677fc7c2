import { expect } from 'chai';
import { createBatcher } from '../../src/storage/batch-writer.js';
import { withDatabaseErrors } from '../../src/storage/database-errors.js';
import { createDatabase } from '../../src/storage/database.js';
import {
  assertCommitInTime,
  COMMIT_MARGIN_MS,
  DeadlinePassedError,
  type WriteDeadline,
} from '../../src/storage/write-deadline.js';
import { domainRejection } from '../support/rejections.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A deadline that only records the COMMITs reported to it. */
const deadlineAt = (at: number, reported: Array<Promise<boolean>> = []): WriteDeadline => ({
  at,
  committing: (committed) => reported.push(committed),
});

describe('writes bounded by their request deadline', () => {
  it('drops an item whose deadline is too close to commit while it waited for a slot, and gives the step the earliest deadline', async () => {
    const steps: Array<{ items: readonly string[]; at: number }> = [];
    let release: () => void = () => {};
    const batcher = createBatcher<string, string>({
      maxConcurrent: 1,
      runMany: async (items, deadline) => {
        steps.push({ items, at: deadline.at });
        if (steps.length === 1) {
          await new Promise<void>((resolve) => (release = resolve));
        }
        return items.map((item) => `${item} stored`);
      },
    });
    const now = Date.now();
    const first = batcher.run('first', deadlineAt(now + 60_000));
    // Still 50 ms before its deadline when the slot frees, but inside the commit margin: it could not commit.
    const expired = batcher.run('expired', deadlineAt(now + COMMIT_MARGIN_MS + 10)).then(
      () => 'stored',
      (error: unknown) => (error instanceof DeadlinePassedError ? 'dropped' : String(error)),
    );
    const later = batcher.run('later', deadlineAt(now + 30_000));
    const sooner = batcher.run('sooner', deadlineAt(now + 20_000));
    await sleep(60);
    release();
    expect(await Promise.all([first, expired, later, sooner])).to.deep.equal([
      'first stored',
      'dropped',
      'later stored',
      'sooner stored',
    ]);
    expect(steps).to.deep.equal([
      { items: ['first'], at: now + 60_000 },
      { items: ['later', 'sooner'], at: now + 20_000 },
    ]);
  });

  it('reports the COMMIT of a batch to the deadline of every item in it', async () => {
    const reported: Array<Promise<boolean>> = [];
    let release: () => void = () => {};
    let runs = 0;
    const committed = Promise.resolve(true);
    const batcher = createBatcher<string, string>({
      maxConcurrent: 1,
      runMany: async (items, deadline) => {
        if (++runs === 1) {
          await new Promise<void>((resolve) => (release = resolve));
        }
        deadline.committing(committed);
        return items.map((item) => item);
      },
    });
    const now = Date.now();
    const first = batcher.run('first', deadlineAt(now + 60_000));
    const batch = ['a', 'b', 'c'].map((item) => batcher.run(item, deadlineAt(now + 60_000, reported)));
    release();
    await Promise.all([first, ...batch]);
    expect(reported).to.deep.equal([committed, committed, committed]);
  });

  it(`refuses to commit past the deadline or within ${COMMIT_MARGIN_MS} ms of it`, () => {
    expect(() => assertCommitInTime(Date.now() + 10 * COMMIT_MARGIN_MS)).not.to.throw();
    expect(() => assertCommitInTime(Date.now() + COMMIT_MARGIN_MS / 2)).to.throw(DeadlinePassedError);
    expect(() => assertCommitInTime(Date.now() - 1)).to.throw(DeadlinePassedError);
  });
});

describe('a request answered by the outcome of its COMMIT', () => {
  // Only its query timeout is read: nothing below touches the database.
  const QUERY_TIMEOUT_MS = 300;
  const db = createDatabase({ url: 'sqlite::memory:', queryTimeoutMs: QUERY_TIMEOUT_MS });
  after(() => db.destroy());

  it('answers 503 at the deadline when no COMMIT is awaiting its answer', async () => {
    const started = Date.now();
    const error = await domainRejection(withDatabaseErrors(db, () => new Promise<never>(() => {})));
    expect(error.code).to.equal('unavailable');
    expect(Date.now() - started).to.be.at.least(QUERY_TIMEOUT_MS - 5);
  });

  it('answers a success when a COMMIT sent in time is answered OK after the deadline', async () => {
    const answer = await withDatabaseErrors(db, async (deadline) => {
      let answerCommit: (committed: boolean) => void = () => {};
      deadline.committing(new Promise<boolean>((resolve) => (answerCommit = resolve)));
      // The COMMIT's answer arrives well after the deadline (a server that froze for a moment).
      await sleep(QUERY_TIMEOUT_MS + 200);
      answerCommit(true);
      return 'stored';
    });
    expect(answer).to.equal('stored');
  });

  it('answers 503 once a COMMIT sent in time fails (or goes unanswered) after the deadline', async () => {
    let answerCommit: (committed: boolean) => void = () => {};
    const started = Date.now();
    const failed = withDatabaseErrors(db, (deadline) => {
      deadline.committing(new Promise<boolean>((resolve) => (answerCommit = resolve)));
      return new Promise<never>(() => {});
    });
    let settled = false;
    void failed.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(QUERY_TIMEOUT_MS + 100);
    expect(settled, 'answered while its COMMIT was still awaiting its answer').to.equal(false);
    answerCommit(false);
    const error = await domainRejection(failed);
    expect(error.code).to.equal('unavailable');
    expect(Date.now() - started).to.be.at.least(QUERY_TIMEOUT_MS + 100);
  });

  it('does not run a conflicting write again once its deadline has passed', async () => {
    let runs = 0;
    const error = await domainRejection(
      withDatabaseErrors(db, async () => {
        runs += 1;
        await sleep(QUERY_TIMEOUT_MS + 50);
        throw Object.assign(new Error('Deadlock found when trying to get lock'), { code: 'ER_LOCK_DEADLOCK' });
      }),
    );
    expect(error.code).to.equal('unavailable');
    await sleep(100);
    expect(runs).to.equal(1);
  });
});
