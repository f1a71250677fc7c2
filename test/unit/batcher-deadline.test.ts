import { expect } from 'chai';
import { createBatcher } from '../../src/storage/batch-writer.js';
import { assertCommitInTime, COMMIT_MARGIN_MS, DeadlinePassedError } from '../../src/storage/database-errors.js';

describe('writes bounded by their request deadline', () => {
  it('drops an item whose deadline passed while it waited for a slot, and gives the step the earliest deadline', async () => {
    const steps: Array<{ items: readonly string[]; deadline: number }> = [];
    let release: () => void = () => {};
    const batcher = createBatcher<string, string>({
      maxConcurrent: 1,
      runMany: async (items, deadline) => {
        steps.push({ items, deadline });
        if (steps.length === 1) {
          await new Promise<void>((resolve) => (release = resolve));
        }
        return items.map((item) => `${item} stored`);
      },
    });
    const now = Date.now();
    const first = batcher.run('first', now + 60_000);
    const expired = batcher.run('expired', now + 20).then(
      () => 'stored',
      (error: unknown) => (error instanceof DeadlinePassedError ? 'dropped' : String(error)),
    );
    const later = batcher.run('later', now + 30_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    expect(await Promise.all([first, expired, later])).to.deep.equal(['first stored', 'dropped', 'later stored']);
    expect(steps).to.deep.equal([
      { items: ['first'], deadline: now + 60_000 },
      { items: ['later'], deadline: now + 30_000 },
    ]);
  });

  it(`refuses to commit past the deadline or within ${COMMIT_MARGIN_MS} ms of it`, () => {
    expect(() => assertCommitInTime(Date.now() + 10 * COMMIT_MARGIN_MS)).not.to.throw();
    expect(() => assertCommitInTime(Date.now() + COMMIT_MARGIN_MS / 2)).to.throw(DeadlinePassedError);
    expect(() => assertCommitInTime(Date.now() - 1)).to.throw(DeadlinePassedError);
  });
});
