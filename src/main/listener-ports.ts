import { createServer } from 'node:net';
import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';

/** One listener the configuration asks for, named by the configuration key of its port. */
export interface ConfiguredListener {
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** Every listener the configuration enables, with a fixed port (port 0 takes any free port and cannot collide). */
export function configuredListeners(config: Config): ConfiguredListener[] {
  const listeners: ConfiguredListener[] = [];
  const add = (key: string, host: string, port: number): void => {
    if (port !== 0) {
      listeners.push({ key, host, port });
    }
  };
  if (config.capsules.enabled) {
    for (const [name, port] of Object.entries(config.capsules.ports)) {
      add(`capsules.ports.${name}`, config.host, port);
    }
  }
  if (config.shares.enabled) {
    for (const [name, port] of Object.entries(config.shares.ports)) {
      add(`shares.ports.${name}`, config.host, port);
    }
  }
  if (config.management.enabled) {
    add('management.port', config.management.host, config.management.port);
  }
  return listeners;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** Two bind addresses collide on one port when they are the same or one of them is every address. */
const overlap = (a: string, b: string): boolean => a === b || WILDCARDS.has(a) || WILDCARDS.has(b);

/** Throws when two listeners are configured on one port; names both keys. */
export function assertNoSharedPorts(listeners: readonly ConfiguredListener[]): void {
  for (const [index, first] of listeners.entries()) {
    const second = listeners
      .slice(index + 1)
      .find((other) => other.port === first.port && overlap(first.host, other.host));
    if (second) {
      throw new ConfigError(
        `${first.key} and ${second.key}: both are port ${first.port} (on ${first.host}${second.host === first.host ? '' : ` and ${second.host}`}); give each listener its own port`,
      );
    }
  }
}

/** Binds the address for a moment: the only reliable answer to "can this process listen there?". */
function probe(listener: ConfiguredListener): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host: listener.host, port: listener.port, exclusive: true }, () => {
      server.close(() => resolve(undefined));
    });
  });
}

function describe(listener: ConfiguredListener, error: NodeJS.ErrnoException): string {
  const where = `port ${listener.port} on ${listener.host}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${listener.key}: ${where} is already in use by another process`;
    case 'EACCES':
      return `${listener.key}: ${where} needs privileges this process does not have (EACCES)`;
    case 'EADDRNOTAVAIL':
      return `${listener.key}: ${listener.host} is not an address of this machine (EADDRNOTAVAIL)`;
    default:
      return `${listener.key}: cannot listen on ${where} (${error.code ?? error.message})`;
  }
}

/**
 * Checks every configured listener before any starts, so that a port conflict is one line naming the
 * configuration key instead of a half-started server and a bare `listen EADDRINUSE`. (A process that takes a
 * port between this check and the start is still refused, by the start itself.)
 */
export async function assertListenersCanStart(config: Config): Promise<void> {
  const listeners = configuredListeners(config);
  assertNoSharedPorts(listeners);
  for (const listener of listeners) {
    const error = await probe(listener);
    if (error) {
      throw new ConfigError(describe(listener, error));
    }
  }
}
