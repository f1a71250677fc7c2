// `npm run bench:cluster`: gRPC create and get of key capsules on a three-node MariaDB Galera cluster behind HAProxy
// (both layouts) against one MariaDB server with the same InnoDB settings, same load, in one run; prints the rates,
// p99 latencies and the cluster/single rate ratios. Everything is private and on 127.0.0.1 (the databases are
// started here and removed at the end), bounded in request count. Not a test: numbers vary with the machine.
import { startGaleraCluster } from '../test/support/galera-cluster.js';
import { startPrivateMariaDb } from '../test/support/private-mariadb.js';
import { capsuleFor, protoCapsule } from '../test/support/capsule-fixtures.js';
import {
  grpcCreateCapsule,
  grpcGetCapsule,
  recipientClient,
  senderClient,
  startTestServer,
} from '../test/support/test-server.js';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 1000);
/** Rounds over the three targets, in alternating order, so that a load change on the machine hits all of them. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);

interface Figures {
  /** Requests per second. */
  readonly rate: number;
  /** 99th-percentile latency in milliseconds. */
  readonly p99: number;
}

/** Runs `count` calls of `call`, CONCURRENCY at a time, and measures the rate and the p99 latency. */
async function load(count: number, call: (index: number) => Promise<unknown>): Promise<Figures> {
  const latencies: number[] = [];
  let issued = 0;
  const worker = async (): Promise<void> => {
    for (let index = issued++; index < count; index = issued++) {
      const start = performance.now();
      await call(index);
      latencies.push(performance.now() - start);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: count / elapsed, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

/** Create then get REQUESTS capsules over gRPC through one server instance on `databaseUrl`. */
async function run(databaseUrl: string): Promise<{ create: Figures; get: Figures }> {
  const server = await startTestServer({ database: { url: databaseUrl } });
  const sender = senderClient(server.pki, server.ports.grpcSender);
  const recipient = recipientClient(server.pki, server.ports.grpcRecipient, server.pki.clients.ecP256);
  try {
    const capsule = protoCapsule(capsuleFor(server.pki.clients.ecP256));
    const ids: string[] = [];
    // Warm-up: connections, TLS sessions, the pool, JIT.
    const warm = (await grpcCreateCapsule(sender, { capsule })).transactionId;
    await load(100, () => grpcCreateCapsule(sender, { capsule }));
    await load(100, () => grpcGetCapsule(recipient, { transactionId: warm }));
    const create = await load(REQUESTS, async (index) => {
      ids[index] = (await grpcCreateCapsule(sender, { capsule })).transactionId;
    });
    const get = await load(REQUESTS, (index) => grpcGetCapsule(recipient, { transactionId: ids[index] ?? '' }));
    return { create, get };
  } finally {
    sender.close();
    recipient.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  // The single server gets the InnoDB settings the cluster's nodes run with, so that only the cluster differs.
  const single = await startPrivateMariaDb(['--innodb-flush-log-at-trx-commit=2', '--innodb-buffer-pool-size=48M']);
  const cluster = await startGaleraCluster().catch(async (error: unknown) => {
    await single.destroy();
    throw error;
  });
  try {
    const targets: [string, string][] = [
      ['one MariaDB', single.url],
      ['Galera, single writer', cluster.singleWriterUrl],
      ['Galera, multi-writer', cluster.multiWriterUrl],
    ];
    const results = new Map<string, { create: Figures; get: Figures }[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, url] of round % 2 === 0 ? targets : [...targets].reverse()) {
        results.set(name, [...(results.get(name) ?? []), await run(url)]);
      }
    }
    const mean = (name: string, pick: (run: { create: Figures; get: Figures }) => number): number => {
      const runs = results.get(name) ?? [];
      return runs.reduce((sum, run) => sum + pick(run), 0) / runs.length;
    };
    const baseCreate = mean('one MariaDB', (run) => run.create.rate);
    const baseGet = mean('one MariaDB', (run) => run.get.rate);
    console.log(
      `gRPC, ${REQUESTS} requests per operation, ${CONCURRENCY} concurrent, one server instance, ` +
        `mean of ${ROUNDS} rounds`,
    );
    console.log('database                 create/s  p99 ms  ratio |   get/s  p99 ms  ratio');
    for (const [name] of targets) {
      const createRate = mean(name, (run) => run.create.rate);
      const getRate = mean(name, (run) => run.get.rate);
      console.log(
        `${name.padEnd(24)} ${createRate.toFixed(0).padStart(8)} ${mean(name, (run) => run.create.p99)
          .toFixed(1)
          .padStart(7)} ${(createRate / baseCreate).toFixed(2).padStart(6)} | ${getRate.toFixed(0).padStart(7)} ` +
          `${mean(name, (run) => run.get.p99)
            .toFixed(1)
            .padStart(7)} ${(getRate / baseGet).toFixed(2).padStart(6)}`,
      );
    }
  } finally {
    await cluster.destroy();
    await single.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
