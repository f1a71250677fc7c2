/**
 * Starts queued work a little at a time, so that no client's backlog holds the event loop: tasks run in
 * `setImmediate` callbacks, at most `budgetMs` of them per loop iteration, taking one task per connection in turn
 * (round robin). What is left waits for the next iteration, after Node has polled for I/O, so a request on another
 * connection (or a liveness probe) is read between two slices of a flood (README "Limits", pipelining).
 *
 * Without it, the requests of a pipelined burst or the calls of an HTTP/2 burst started back to back in one turn:
 * 100 calls of one connection were tens of milliseconds during which nothing else was read.
 */
export interface TurnScheduler {
  /**
   * Runs `task` in a later turn, after the tasks queued before it by the same `owner` (a connection: its socket,
   * or the peer address grpc-js gives a call).
   */
  schedule(owner: unknown, task: () => void): void;
  /** Tasks waiting, for the tests and metrics. */
  readonly pending: number;
}

/** One slice of queued work per loop iteration: long enough to make progress, short beside a 200 ms probe bound. */
export const TURN_BUDGET_MS = 5;

export function createTurnScheduler(
  budgetMs = TURN_BUDGET_MS,
  now: () => number = () => performance.now(),
): TurnScheduler {
  /** Owners with queued tasks, in the order they will be served; each owner appears at most once. */
  const ring: Array<{ readonly owner: unknown; readonly tasks: Array<() => void> }> = [];
  // An owner is held only while it has tasks waiting.
  const queued = new Map<unknown, Array<() => void>>();
  let pending = 0;
  let scheduled = false;

  const slice = (): void => {
    scheduled = false;
    const started = now();
    try {
      // Each owner is served once per round; the slice ends when the budget is spent, after at least one task.
      do {
        const next = ring.shift();
        if (!next) {
          break;
        }
        const task = next.tasks.shift();
        if (next.tasks.length > 0) {
          ring.push(next);
        } else {
          queued.delete(next.owner);
        }
        if (task) {
          pending--;
          task();
        }
      } while (ring.length > 0 && now() - started < budgetMs);
    } finally {
      // Also after a task threw (the error goes on to the process, as it would have without the scheduler).
      if (ring.length > 0 && !scheduled) {
        scheduled = true;
        setImmediate(slice);
      }
    }
  };

  return {
    schedule(owner, task) {
      const tasks = queued.get(owner);
      if (tasks) {
        tasks.push(task);
      } else {
        const created = [task];
        queued.set(owner, created);
        ring.push({ owner, tasks: created });
      }
      pending++;
      if (!scheduled) {
        scheduled = true;
        setImmediate(slice);
      }
    },
    get pending() {
      return pending;
    },
  };
}

/**
 * The process's one scheduler for starting requests and calls: the event loop it protects is the process's, so
 * every listener of both transports shares its budget and its round robin.
 */
export const requestStarts: TurnScheduler = createTurnScheduler();
