import type { Logger } from '../logging/logger.js';

/** How long a repeated signal counts as the same request to stop (see below). */
const SAME_SIGNAL_MS = 1000;

/** How often a server started by npm checks that npm is still there. */
const PARENT_CHECK_MS = 500;

/**
 * Stops the running servers on SIGTERM or SIGINT (README "Shutdown and database outages"): listeners stop accepting, requests in flight
 * finish, exit code 0. A second, different signal, or the same one more than a second later, exits at once with 1.
 */
export function stopOnSignals(app: { close(): Promise<void> }, logger: Logger): void {
  let stopping: { signal: string; at: number } | undefined;
  const stop = (signal: string): void => {
    if (stopping) {
      // Ctrl-C in a terminal reaches every process of the foreground group, and `npm start` forwards it once
      // more: the same signal again within a second is the same request. A later one means "now".
      if (signal === stopping.signal && Date.now() - stopping.at < SAME_SIGNAL_MS) {
        return;
      }
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = { signal, at: Date.now() };
    logger.info({ signal }, 'stopping');
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  stopWhenOrphaned(() => stop('parent exited'));
}

/**
 * `npm exec cdoc2-keyserver serve` runs this process under `sh -c`: a SIGTERM to npm (what a supervisor sends)
 * ends npm and the shell but never reaches this process, which would keep every port. Under npm
 * (`npm_lifecycle_event` is set) nobody waits for this process once its parent is gone, so that means stop.
 * (`npm start` has no shell in between: its script `exec`s node, so npm's forwarded signals arrive here.)
 */
function stopWhenOrphaned(stop: () => void): void {
  if (process.env['npm_lifecycle_event'] === undefined) {
    return;
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}
