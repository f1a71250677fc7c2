import type { Server } from 'node:net';
import type { Config } from '../config/config-schema.js';

/** The bounds every listener applies (configuration `limits`, README "Limits"). */
export type ListenerLimits = Config['limits'];

/**
 * Caps the connections one listener holds at once (Node's `maxConnections`): a connection past the cap is closed
 * by the kernel-facing side at once, before TLS, so that a flood of idle connections costs a socket for a moment
 * and nothing else. `onRefused` hears of each one (for the log and metrics).
 */
export function capConnections(server: Server, max: number, onRefused?: () => void): void {
  server.maxConnections = max;
  if (onRefused) {
    server.on('drop', onRefused);
  }
}
