import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';

export interface Readiness {
  readonly ready: boolean;
  /** Each check's result: "ok" or a short reason, never an internal error text. */
  readonly checks: Readonly<Record<string, string>>;
}

export interface ManagementOptions {
  readonly host: string;
  readonly port: number;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  readonly metricsToken: string;
  readonly registry: Registry;
  readonly readiness: () => Promise<Readiness>;
  readonly info: () => Record<string, unknown>;
  readonly logger: FastifyBaseLogger;
}

export interface ManagementListener {
  readonly port: number;
  close(): Promise<void>;
}

const sameToken = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * The operations listener (README "Health, metrics, logs"): plain HTTP, loopback by default, for load balancers
 * and monitoring. Liveness says the process answers; readiness says the database answers and its schema is
 * current; /metrics is Prometheus text, optionally behind a bearer token; /info tells version and server time.
 */
export async function startManagementListener(options: ManagementOptions): Promise<ManagementListener> {
  const app = fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/health/live', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const { ready, checks } = await options.readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks });
  });
  app.get('/info', (_request, reply) => reply.send({ ...options.info(), serverTime: new Date().toISOString() }));
  app.get('/metrics', async (request, reply) => {
    if (options.metricsToken !== '') {
      const header = request.headers.authorization ?? '';
      if (!header.startsWith('Bearer ') || !sameToken(header.slice('Bearer '.length), options.metricsToken)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ status: 'unauthorized' });
      }
    }
    return reply.type(options.registry.contentType).send(await options.registry.metrics());
  });
  await app.listen({ host: options.host, port: options.port });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}
