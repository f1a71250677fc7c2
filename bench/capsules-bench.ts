// `npm run bench`: create/get rates of the key capsule server over both transports, and of the shares server
// (create; nonce + signed ticket + GET), on MariaDB (MYSQL_URL) and
// on the embedded SQLite default. Loopback only, bounded request counts; prints a table. Not a test: numbers vary
// with the machine, so nothing here passes or fails.
import { Agent, request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapsuleType } from '../gen/cdoc2/capsules/v1/capsules.js';
import { configSchema } from '../src/config/config-schema.js';
import { resolveConfig } from '../src/config/resolve-config.js';
import { createLogger } from '../src/logging/logger.js';
import { startApp } from '../src/main/app.js';
import { capsuleFor, capsuleJson } from '../test/support/capsule-fixtures.js';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../test/support/auth-ticket-builder.js';
import { createTestDatabase } from '../test/support/mysql.js';
import { getTestPki, type TestPki } from '../test/support/test-pki.js';
import { grpcCreateCapsule, grpcGetCapsule, recipientClient, senderClient } from '../test/support/test-server.js';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 2000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 16);

interface Result {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
}

async function measure(task: (i: number) => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rate: REQUESTS / seconds, p50: at(0.5), p99: at(0.99) };
}

function httpsCall(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        servername: 'localhost',
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ...(res.headers.location ? { location: res.headers.location } : {}),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function httpsJson(agent: Agent, port: number, method: string, path: string): Promise<unknown> {
  const res = await httpsCall(agent, port, method, path);
  return JSON.parse(res.body) as unknown;
}

async function benchBackend(label: string, url: string, pki: TestPki): Promise<void> {
  const config = await resolveConfig({
    file: undefined,
    config: configSchema.parse({
      database: { url },
      tls: pki.serverFiles,
      capsules: { clientCa: [pki.caFile], ports: { restSender: 0, restRecipient: 0, grpcSender: 0, grpcRecipient: 0 } },
      shares: { baseUrls: ['https://css.test'], trustedIssuers: [pki.authCaFile], ports: { rest: 0, grpc: 0 } },
    }),
  });
  const app = await startApp(config, { logger: createLogger({ level: 'silent', pretty: false }) });
  const ports = app.capsulePorts!;
  const client = pki.clients.ecP256;
  const capsule = capsuleFor(client);
  const body = capsuleJson(capsule);
  const senderAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: pki.ca.certPem });
  const recipientAgent = new Agent({
    keepAlive: true,
    maxSockets: CONCURRENCY,
    ca: pki.ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
  });
  const ids: string[] = [];
  const restCreate = await measure(async () => {
    const res = await httpsCall(senderAgent, ports.restSender, 'POST', '/key-capsules', body);
    if (res.status !== 201 || !res.location) throw new Error(`create: ${res.status}`);
    ids.push(res.location);
  });
  const restGet = await measure(async (i) => {
    const res = await httpsCall(recipientAgent, ports.restRecipient, 'GET', ids[i % ids.length] ?? '');
    if (res.status !== 200) throw new Error(`get: ${res.status}`);
  });
  const sender = senderClient(pki, ports.grpcSender);
  const recipient = recipientClient(pki, ports.grpcRecipient, client);
  const grpcIds: string[] = [];
  const proto = {
    recipientId: capsule.recipientId,
    ephemeralKeyMaterial: capsule.ephemeralKeyMaterial,
    capsuleType: CapsuleType.CAPSULE_TYPE_ECC_SECP256R1,
  };
  const grpcCreate = await measure(async () => {
    grpcIds.push((await grpcCreateCapsule(sender, { capsule: proto })).transactionId);
  });
  const grpcGet = await measure(async (i) => {
    await grpcGetCapsule(recipient, { transactionId: grpcIds[i % grpcIds.length] ?? '' });
  });
  sender.close();
  recipient.close();

  // Shares: store, then the recipient's whole round trip per share: a nonce, one RS256 ticket signature, the GET.
  const sharePort = app.sharePorts!.rest;
  const signer = pki.auth.rsa2048;
  const shareBody = JSON.stringify({
    share: Buffer.alloc(32, 7).toString('base64'),
    recipient: `etsi/${serialNumberOf(signer)}`,
  });
  const shareIds: string[] = [];
  const shareCreate = await measure(async () => {
    const res = await httpsCall(senderAgent, sharePort, 'POST', '/key-shares', shareBody);
    if (res.status !== 201 || !res.location) throw new Error(`share create: ${res.status}`);
    shareIds.push(res.location.slice('/key-shares/'.length));
  });
  const x5c = oneLinePem(signer);
  const shareFetch = await measure(async (i) => {
    const id = shareIds[i % shareIds.length] ?? '';
    const nonceRes = await httpsJson(senderAgent, sharePort, 'POST', `/key-shares/${id}/nonce`);
    const ticket = createAuthTicket({
      signer,
      urls: [`https://css.test/key-shares/${id}?nonce=${(nonceRes as { nonce: string }).nonce}`],
    }).presentationFor(0);
    const res = await httpsCall(senderAgent, sharePort, 'GET', `/key-shares/${id}`, undefined, {
      'x-cdoc2-auth-ticket': ticket,
      'x-cdoc2-auth-x5c': x5c,
    });
    if (res.status !== 200) throw new Error(`share get: ${res.status}`);
  });
  senderAgent.destroy();
  recipientAgent.destroy();
  await app.close();
  const row = (name: string, r: Result): string =>
    `${label.padEnd(8)} ${name.padEnd(12)} ${r.rate.toFixed(0).padStart(7)}/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms`;
  console.log(row('REST create', restCreate));
  console.log(row('REST get', restGet));
  console.log(row('gRPC create', grpcCreate));
  console.log(row('gRPC get', grpcGet));
  console.log(row('share create', shareCreate));
  console.log(row('share fetch', shareFetch) + '   (nonce + ticket signing + GET)');
}

async function main(): Promise<void> {
  const pki = await getTestPki();
  console.log(`${REQUESTS} requests per row, ${CONCURRENCY} in flight, EC P-256 capsules, TLS 1.3 on 127.0.0.1`);
  const database = await createTestDatabase();
  try {
    await benchBackend('MariaDB', database.url, pki);
  } finally {
    await database.drop();
  }
  const dir = mkdtempSync(join(tmpdir(), 'cdoc2-bench-'));
  try {
    await benchBackend('SQLite', `sqlite:${join(dir, 'bench.sqlite')}`, pki);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB (server and load generator in one process)`);
}

void main();
