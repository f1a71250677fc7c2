// A load generator of the bench, in its own process (started by bench/run.ts as `tsx bench/load.ts SPEC_FILE`, a JSON LoadSpec):
// a warm-up, then a fixed measured window. It prints `{"phase":"measuring"}` when the window opens (the parent
// then reads the server's CPU time) and one result line when it closes. Closed loop (a fixed number of requests
// in flight) unless `rate` asks for a paced open loop.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
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
    | {
        readonly kind: 'h2load';
        readonly port: number;
        readonly method: string;
        /** The one request message, base64 protobuf: h2load sends the same body every time. */
        readonly message: string;
        /** HTTP/2 connections; the streams of each make up `concurrency`. */
        readonly channels: number;
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

/** The body of a unary gRPC request: the 5-byte frame prefix (not compressed, length big-endian), then the message. */
export const grpcFrame = (message: Buffer): Buffer => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
};

/** The arguments of an h2load run sending `body` (a file) as unary gRPC calls to `method`. */
export const h2loadArgs = (port: number, method: string, body: string): string[] => [
  `https://127.0.0.1:${port}${method}`,
  '--data',
  body,
  '--header',
  'content-type: application/grpc',
  '--header',
  'te: trailers',
  '--threads',
  '1',
];

/**
 * gRPC through h2load (nghttp2's HTTP/2 load generator, native code: less of the two shared cores goes to the load
 * than with the grpc-js client), as many connections as `channels`, with a prebuilt body. For the sender rows only:
 * h2load cannot present a client certificate, and every recipient call needs one (mTLS). h2load sees the HTTP status
 * and not the gRPC status in the trailers, so bench/run.ts first checks that a few calls with the same body stored
 * their rows. Latencies come from h2load's per-request log (start time, status, µs), the warm-up's left out.
 */
async function h2loadLoad(spec: Extract<LoadSpec, { kind: 'h2load' }>): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cdoc2-h2load-'));
  try {
    const body = join(dir, 'body');
    const log = join(dir, 'log');
    writeFileSync(body, grpcFrame(Buffer.from(spec.message, 'base64')));
    const streams = Math.max(1, Math.ceil(spec.concurrency / spec.channels));
    const args = [
      ...h2loadArgs(spec.port, spec.method, body),
      `--clients=${spec.channels}`,
      `--max-concurrent-streams=${streams}`,
      `--duration=${spec.windowMs}ms`,
      `--warm-up-time=${spec.warmupMs}ms`,
      `--log-file=${log}`,
      ...(spec.rate ? [`--rps=${Math.max(1, Math.round(spec.rate / spec.channels))}`] : []),
    ];
    const started = Date.now();
    const warm = setTimeout(() => say({ phase: 'measuring' }), spec.warmupMs);
    const { stdout } = await promisify(execFile)('h2load', args, { maxBuffer: 16 << 20 });
    clearTimeout(warm);
    const counts =
      /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
        stdout,
      );
    const finished = /finished in ([\d.]+)(m?s)/.exec(stdout);
    if (!counts || !finished) {
      throw new Error(`h2load printed no summary: ${stdout.slice(0, 200)}`);
    }
    const windowStartUs = (started + spec.warmupMs) * 1000;
    const latencies = readFileSync(log, 'utf8')
      .split('\n')
      .map((line) => line.split('\t').map(Number))
      .filter(([start, status]) => status === 200 && (start ?? 0) >= windowStartUs)
      .map(([, , micros]) => (micros ?? 0) / 1000)
      .sort((a, b) => a - b);
    const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    const [, , succeeded = 0, failed = 0, errored = 0, timeouts = 0] = counts.map(Number);
    const errors = failed + errored + timeouts;
    const seconds = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
    return {
      count: succeeded,
      errors,
      seconds,
      p50: at(0.5),
      p99: at(0.99),
      ...(errors > 0 ? { firstError: `${failed} failed, ${errored} errored, ${timeouts} timeouts` } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
        : spec.kind === 'h2load'
          ? await h2loadLoad(spec)
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
