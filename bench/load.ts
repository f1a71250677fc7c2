// A load generator of the bench, in its own process (started by bench/run.ts as `tsx bench/load.ts SPEC_FILE`, a JSON LoadSpec):
// a warm-up, then a fixed measured window. It prints `{"phase":"measuring"}` when the window opens (the parent
// then reads the server's CPU time) and one result line when it closes. Closed loop (a fixed number of requests
// in flight) unless `rate` asks for a paced open loop.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import autocannon from 'autocannon';
import knexFactory from 'knex';

interface TlsFiles {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

interface Common {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly concurrency: number;
  /** Requests per second for a paced run; absent: as fast as the server answers. */
  readonly rate?: number;
}

export type LoadSpec = Common &
  (
    | {
        readonly kind: 'grpc';
        readonly port: number;
        readonly method: string;
        /** Request messages, base64 protobuf, used round robin. */
        readonly messages: readonly string[];
        readonly channels: number;
        readonly tls: TlsFiles;
      }
    | {
        readonly kind: 'http';
        readonly port: number;
        readonly method: 'GET' | 'POST';
        /** Paths used round robin, or (with `once`) each exactly once: single-use tickets. */
        readonly paths: readonly string[];
        readonly headers?: readonly Record<string, string>[];
        readonly once?: boolean;
        readonly body?: string;
        readonly tls: TlsFiles;
        /** Writes `path TAB body-or-Location` of each 2xx response to this file, one a line. */
        readonly collect?: { readonly file: string; readonly what: 'body' | 'location' };
      }
    | { readonly kind: 'connect'; readonly port: number; readonly paths: readonly string[]; readonly tls: TlsFiles }
    | { readonly kind: 'knex-insert' | 'knex-select'; readonly url: string; readonly table: string }
  );

export interface LoadResult {
  readonly count: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly firstError?: string;
}

const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

/** Runs `one` in a closed or paced loop; latencies of calls started inside the window are the sample. */
async function drive(spec: Common, one: (i: number) => Promise<void>, available = Infinity): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let issued = 0;
  let completed = 0;
  let measuring = false;
  let windowStart = 0;
  const start = performance.now();
  const warmupEnd = start + spec.warmupMs;
  const end = warmupEnd + spec.windowMs;
  const fire = async (): Promise<void> => {
    const i = issued++;
    const t0 = performance.now();
    try {
      await one(i);
      if (measuring && t0 >= windowStart) {
        latencies.push(performance.now() - t0);
        completed++;
      }
    } catch (error) {
      if (measuring) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  const openWindow = (): void => {
    if (!measuring && performance.now() >= warmupEnd) {
      measuring = true;
      windowStart = performance.now();
      say({ phase: 'measuring' });
    }
  };
  if (spec.rate) {
    const interval = 1000 / spec.rate;
    const inFlight = new Set<Promise<void>>();
    let next = performance.now();
    while (performance.now() < end && issued < available) {
      openWindow();
      const now = performance.now();
      while (next <= now && issued < available) {
        const pending = fire();
        inFlight.add(pending);
        void pending.then(() => inFlight.delete(pending));
        next += interval;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (performance.now() < end && issued < available) {
          openWindow();
          await fire();
        }
      }),
    );
  }
  const seconds = (Math.min(performance.now(), end) - windowStart) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { count: completed, errors, seconds, p50: at(0.5), p99: at(0.99), ...(firstError ? { firstError } : {}) };
}

const read = (file: string | undefined): Buffer | undefined => (file ? readFileSync(file) : undefined);

async function grpcLoad(spec: Extract<LoadSpec, { kind: 'grpc' }>): Promise<LoadResult> {
  const creds = credentials.createSsl(read(spec.tls.ca), read(spec.tls.key) ?? null, read(spec.tls.cert) ?? null);
  // A local subchannel pool per client: each is its own HTTP/2 connection.
  const clients = Array.from(
    { length: spec.channels },
    () =>
      new Client(`127.0.0.1:${spec.port}`, creds, {
        'grpc.ssl_target_name_override': 'localhost',
        'grpc.default_authority': 'localhost',
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  const messages = spec.messages.map((message) => Buffer.from(message, 'base64'));
  const identity = (bytes: Buffer): Buffer => bytes;
  const result = await drive(spec, (i) => {
    const client = clients[i % clients.length] as Client;
    return new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(
        spec.method,
        identity,
        identity,
        messages[i % messages.length] as Buffer,
        (error: ServiceError | null) => (error ? reject(new Error(`${error.code} ${error.details}`)) : resolve()),
      ),
    );
  });
  clients.forEach((client) => client.close());
  return result;
}

/** REST through autocannon (HTTP/1.1 keep-alive, `concurrency` connections); a warm-up run, then the window. */
async function httpLoad(spec: Extract<LoadSpec, { kind: 'http' }>): Promise<LoadResult> {
  let next = 0;
  const collected: string[] = [];
  const tlsOptions = { ca: read(spec.tls.ca), cert: read(spec.tls.cert), key: read(spec.tls.key) };
  const run = async (durationMs: number, amount?: number): Promise<autocannon.Result> =>
    autocannon({
      url: `https://127.0.0.1:${spec.port}`,
      servername: 'localhost',
      // autocannon refuses more connections than requests (few single-use tickets when nonces were slow).
      connections: Math.max(1, Math.min(spec.concurrency, amount ?? spec.concurrency)),
      duration: durationMs / 1000,
      ...(amount !== undefined ? { amount } : {}),
      ...(spec.rate ? { overallRate: spec.rate } : {}),
      tlsOptions,
      requests: [
        {
          method: spec.method,
          ...(spec.body ? { body: spec.body, headers: { 'content-type': 'application/json' } } : {}),
          setupRequest: (request, context) => {
            const i = next++;
            const path = spec.paths[i % spec.paths.length] as string;
            (context as Record<string, unknown>)['path'] = path;
            return {
              ...request,
              path,
              ...(spec.headers ? { headers: { ...request.headers, ...spec.headers[i % spec.headers.length] } } : {}),
            };
          },
          onResponse: (status, body, context, headers) => {
            if (spec.collect && status < 300) {
              const value = spec.collect.what === 'body' ? body : String(headers?.['location'] ?? '');
              collected.push(`${String((context as Record<string, unknown>)['path'])}\t${value}`);
            }
          },
        },
      ],
    });
  const warm = await run(spec.warmupMs, spec.once ? Math.floor(spec.paths.length / 4) : undefined);
  say({ phase: 'measuring' });
  const remaining = spec.once ? spec.paths.length - next : undefined;
  const started = performance.now();
  const result = await run(spec.windowMs, remaining);
  const seconds = (performance.now() - started) / 1000;
  if (spec.collect) {
    writeFileSync(spec.collect.file, collected.join('\n'));
  }
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    count: result.requests.total - result.non2xx,
    errors,
    seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ...(errors > 0 || warm.non2xx > 0
      ? { firstError: `${result.non2xx + warm.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts` }
      : {}),
  };
}

/** A new mutual TLS connection per request (no session resumption), one GET, the server closes. */
async function connectLoad(spec: Extract<LoadSpec, { kind: 'connect' }>): Promise<LoadResult> {
  const tls = { ca: read(spec.tls.ca), cert: read(spec.tls.cert), key: read(spec.tls.key) };
  return drive(
    spec,
    (i) =>
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: spec.port, servername: 'localhost', ...tls }, () =>
          socket.write(
            `GET ${spec.paths[i % spec.paths.length]} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`,
          ),
        );
        let head = '';
        socket.on('data', (chunk: Buffer) => {
          if (head.length < 16) {
            head += chunk.toString('latin1');
          }
        });
        socket.on('error', reject);
        socket.on('close', () => (head.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(head.slice(0, 40)))));
      }),
  );
}

/** The database alone: the statement shapes the capsule store uses, through Knex with the server's pool size. */
async function knexLoad(spec: Extract<LoadSpec, { kind: 'knex-insert' | 'knex-select' }>): Promise<LoadResult> {
  const db = knexFactory({ client: 'mysql2', connection: { uri: spec.url } as never, pool: { min: 0, max: 10 } });
  const row = (): Record<string, unknown> => ({
    transaction_id: `KC${randomBytes(16).toString('hex')}`,
    capsule_type: 'ecc_secp256r1',
    recipient_id: randomBytes(65),
    ephemeral_key_material: randomBytes(65),
    expires_at: Date.now() + 86_400_000,
    expiry_adjusted: false,
    created_at: Date.now(),
  });
  try {
    if (spec.kind === 'knex-insert') {
      return await drive(spec, async () => {
        await db(spec.table).insert(row());
      });
    }
    const ids = Array.from({ length: 1000 }, () => row());
    await db.batchInsert(spec.table, ids, 500);
    return await drive(spec, async (i) => {
      const found: unknown = await db(spec.table)
        .where('transaction_id', ids[i % ids.length]?.['transaction_id'] as string)
        .andWhere('expires_at', '>', Date.now())
        .first();
      if (!found) {
        throw new Error('row not found');
      }
    });
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadSpec;
  const result =
    spec.kind === 'grpc'
      ? await grpcLoad(spec)
      : spec.kind === 'http'
        ? await httpLoad(spec)
        : spec.kind === 'connect'
          ? await connectLoad(spec)
          : await knexLoad(spec);
  say({ phase: 'done', result });
}

if (require.main === module) {
  void main().catch((error: unknown) => {
    say({ phase: 'failed', error: String((error as Error).stack ?? error) });
    process.exitCode = 1;
  });
}
