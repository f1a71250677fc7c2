import type { Clock } from '../../src/domain/clock.js';

/** A clock the test moves by hand. */
export interface TestClock extends Clock {
  set(at: Date): void;
  advance(ms: number): void;
}

export function createTestClock(start = new Date()): TestClock {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    set: (at) => {
      now = at.getTime();
    },
    advance: (ms) => {
      now += ms;
    },
  };
}
