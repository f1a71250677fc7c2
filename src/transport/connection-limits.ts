import type { Server, Socket } from 'node:net';
import type { Config } from '../config/config-schema.js';
import type { Logger } from '../logging/logger.js';
import type { ConnectionRefusals } from '../observability/metrics.js';
import type { TurnScheduler } from './turn-scheduler.js';

/** The bounds every listener applies (configuration `limits`, README "Limits"). */
export type ListenerLimits = Config['limits'];

/** Where a listener reports the connections its cap refused. */
export interface ConnectionCapReport {
  /** The listener's name, as in its request logs. */
  readonly listener: string;
  readonly logger: Pick<Logger, 'warn'>;
  readonly counter?: ConnectionRefusals | undefined;
}

/** Refusals and closures are logged at most once per this period, as one line with their count. */
export const REFUSAL_LOG_PERIOD_MS = 1000;

/**
 * A warning that an attacker can trigger at will, logged as one line per REFUSAL_LOG_PERIOD_MS with the count of
 * occurrences (`count`): a flood of refusals must not become a flood of log lines.
 */
export function aggregatedWarning(
  logger: Pick<Logger, 'warn'>,
  fields: Record<string, unknown>,
  message: string,
): { add(): void } {
  let count = 0;
  return {
    add() {
      if (count++ === 0) {
        setTimeout(() => {
          logger.warn({ ...fields, count, periodMs: REFUSAL_LOG_PERIOD_MS }, message);
          count = 0;
        }, REFUSAL_LOG_PERIOD_MS).unref();
      }
    },
  };
}

/**
 * Caps the connections one listener holds at once (Node's `maxConnections`): a connection past the cap is closed
 * at once, before TLS, so that a flood of idle connections costs a socket for a moment and nothing else. Each
 * refusal is counted and logged (aggregated, README "Limits").
 */
export function capConnections(server: Server, max: number, report?: ConnectionCapReport): void {
  server.maxConnections = max;
  if (!report) {
    return;
  }
  const warning = aggregatedWarning(
    report.logger,
    { listener: report.listener, maxConnections: max },
    'connections refused at the connection cap',
  );
  server.on('drop', () => {
    report.counter?.connectionRefused(report.listener);
    warning.add();
  });
}

/** What the queue needs of a Node request and response. */
interface QueuedRequest {
  readonly socket: Socket;
}
interface QueuedResponse {
  once(event: 'close', listener: () => void): unknown;
}

interface ConnectionQueue<Req, Res> {
  /** Requests handed to the scheduler or the handler whose response has not closed yet. */
  active: number;
  readonly waiting: Array<readonly [Req, Res]>;
  /** Set while the queue waits for the socket's `drain`. */
  blocked: boolean;
}

export interface PipeliningLimits {
  /** Requests of one connection in the handler at once (`limits.rest.maxConcurrentRequestsPerConnection`). */
  readonly maxConcurrent: number;
  /** Requests of one connection waiting their turn; one more closes it (`maxPipelinedRequestsPerConnection`). */
  readonly maxQueued: number;
}

/**
 * Wraps an HTTP request handler so that one connection has at most `maxConcurrent` requests in the handler at
 * once; further pipelined requests wait their turn in order, before the framework sees them (so they cost no more
 * than Node's parsing), and a connection with more than `maxQueued` waiting is closed (`onOverflow` is told).
 * Without this, one client's 2,000 pipelined GETs were 2,000 certificate checks and queries at once while other
 * clients waited. Two more bounds (README "Limits"):
 * - Requests start through `scheduler`, a few per turn and one connection after another, so a connection's
 *   backlog never runs back to back while other connections wait to be read.
 * - Backpressure: no request of a connection starts while its socket holds more unsent response bytes than its
 *   high-water mark (a client that pipelines and does not read its answers); the queue waits for `drain`.
 */
export function queuePerConnection<Req extends QueuedRequest, Res extends QueuedResponse>(
  handler: (request: Req, response: Res) => void,
  { maxConcurrent, maxQueued }: PipeliningLimits,
  { scheduler, onOverflow }: { scheduler: TurnScheduler; onOverflow?: () => void },
): (request: Req, response: Res) => void {
  const queues = new WeakMap<Socket, ConnectionQueue<Req, Res>>();
  const pump = (socket: Socket, queue: ConnectionQueue<Req, Res>): void => {
    while (queue.active < maxConcurrent && queue.waiting.length > 0 && !queue.blocked && !socket.destroyed) {
      if (socket.writableNeedDrain) {
        queue.blocked = true;
        socket.once('drain', () => {
          queue.blocked = false;
          pump(socket, queue);
        });
        return;
      }
      const next = queue.waiting.shift();
      if (!next) {
        return;
      }
      queue.active++;
      const [request, response] = next;
      scheduler.schedule(socket, () => {
        if (socket.destroyed) {
          // Node aborts what the connection had sent; nobody is left to answer.
          return;
        }
        response.once('close', () => {
          queue.active--;
          pump(socket, queue);
        });
        handler(request, response);
      });
    }
  };
  return (request, response) => {
    const { socket } = request;
    if (socket.destroyed) {
      // The rest of a pipelined burst whose connection was closed: nobody to answer.
      return;
    }
    let queue = queues.get(socket);
    if (!queue) {
      const created: ConnectionQueue<Req, Res> = { active: 0, waiting: [], blocked: false };
      queues.set(socket, created);
      socket.once('close', () => (created.waiting.length = 0));
      queue = created;
    }
    if (queue.waiting.length >= maxQueued) {
      queue.waiting.length = 0;
      socket.destroy();
      onOverflow?.();
      return;
    }
    queue.waiting.push([request, response]);
    pump(socket, queue);
  };
}
