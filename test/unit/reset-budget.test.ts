import { expect } from 'chai';
import { RESET_BURST, RESETS_PER_SECOND, resetBudget } from '../../src/transport/grpc/reset-guard.js';

describe('rapid-reset budget of a gRPC connection', () => {
  it(`allows ${RESET_BURST} empty calls at once and refuses the next one`, () => {
    const budget = resetBudget(() => 0);
    const allowed = Array.from({ length: RESET_BURST }, () => budget.take());
    expect(allowed.every(Boolean)).to.equal(true);
    expect(budget.take()).to.equal(false);
  });

  it(`gives back ${RESETS_PER_SECOND} a second, never more than the burst`, () => {
    let now = 0;
    const budget = resetBudget(() => now);
    for (let i = 0; i < RESET_BURST; i++) {
      budget.take();
    }
    now = 1000;
    const afterOneSecond = Array.from({ length: RESETS_PER_SECOND + 1 }, () => budget.take());
    expect(afterOneSecond.filter(Boolean).length).to.equal(RESETS_PER_SECOND);
    now = 1000 + 3_600_000;
    expect(Array.from({ length: RESET_BURST + 1 }, () => budget.take()).filter(Boolean).length).to.equal(RESET_BURST);
  });

  it('takes several at once, as the channelz sweep charges the failed streams it counted since its last look', () => {
    let now = 0;
    const budget = resetBudget(() => now);
    expect(budget.take(RESET_BURST - 10)).to.equal(true);
    expect(budget.take(10)).to.equal(true);
    expect(budget.take(1)).to.equal(false);
    now = 2000;
    expect(budget.take(2 * RESETS_PER_SECOND - 1)).to.equal(true);
    expect(budget.take(RESETS_PER_SECOND)).to.equal(false);
  });
});
