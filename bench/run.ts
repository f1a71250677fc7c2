// `npm run bench`: the key server's operations against the ceilings of its own stack, out of process.
// The server runs from the CLI on a fresh MariaDB database; each ceiling (bare grpc-js mTLS echo, bare Fastify
// echo with and without client certificates, a bare TLS 1.3 mutual handshake server, raw Knex INSERT and PK
// SELECT) runs in its own process; each measurement's load generator is a process of its own (bench/load.ts:
// grpc-js, and h2load too for the gRPC sender rows; autocannon; a Node client for new connections; Knex).
// Each operation is measured right after its ceiling, in interleaved rounds; then a paced run at half of each
// operation's rate (p99) and a run with BENCH_BULK_ROWS capsules stored. Loopback only, bounded in time; prints a
// table and writes JSON (BENCH_OUT, default bench-result.json). BENCH_CPU_PROF=DIR also profiles the server
// (node --cpu-prof); BENCH_ONLY=REGEX measures only the matching rows and their ceilings. Not a test: it never fails on a figure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import knexFactory, { type Knex } from 'knex';
import {
  CreateKeyCapsuleRequest,
  GetKeyCapsuleRequest,
  KeyCapsuleRecipientServiceService,
  KeyCapsuleSenderServiceService,
} from '../gen/cdoc2/capsules/v1/capsules.js';
import { CreateKeyShareRequest, KeyShareSenderServiceService } from '../gen/cdoc2/shares/v1/shares.js';
import { createAuthTicket, oneLinePem, serialNumberOf } from '../test/support/auth-ticket-builder.js';
import { capsuleFor, capsuleJson, protoCapsule } from '../test/support/capsule-fixtures.js';
import { createTestDatabase } from '../test/support/mysql.js';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { getTestPki } from '../test/support/test-pki.js';
import {
  grpcCreateCapsule,
  grpcCreateShare,
  senderClient,
  shareSenderClient,
  TEST_SHARES_BASE_URL,
} from '../test/support/test-server.js';
import { ECHO_METHOD, type CeilingFiles, type CeilingKind } from './ceilings.js';
import { grpcFrame, h2loadArgs, type LoadResult, type LoadSpec } from './load.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const WARMUP_MS = env('BENCH_WARMUP_MS', 2000);
const WINDOW_MS = env('BENCH_WINDOW_MS', 5000);
const ROUNDS = env('BENCH_ROUNDS', 2);
const CONCURRENCY = env('BENCH_CONCURRENCY', 32);
const CHANNELS = env('BENCH_CHANNELS', 4);
const BULK_ROWS = env('BENCH_BULK_ROWS', 500_000);
const OUT = resolve(process.env['BENCH_OUT'] ?? 'bench-result.json');
const TSX = require.resolve('tsx/cjs');
const CLOCK_TICKS = 100;

interface Measured extends LoadResult {
  readonly rate: number;
  /** Server (or, for Knex, client) CPU time per request, µs, from /proc/PID/stat over the window. */
  readonly cpuUs: number;
  readonly rssMb: number;
}

/** utime + stime of a process, in µs. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

const work = mkdtempSync(join(tmpdir(), 'cdoc2-bench-'));
let specCounter = 0;

/** A row that could not be measured (its spec included) is reported as such, and the run goes on. */
async function measure(spec: () => LoadSpec | Promise<LoadSpec>, serverPid: number | undefined): Promise<Measured> {
  try {
    return await measureOnce(await spec(), serverPid);
  } catch (error) {
    const firstError = (error as Error).message.split('\n')[0] ?? 'failed';
    return { count: 0, errors: 1, seconds: 0, p50: 0, p99: 0, firstError, rate: 0, cpuUs: 0, rssMb: 0 };
  }
}

/** Runs one load generator process; `serverPid` undefined means the load process is the measured one (Knex). */
async function measureOnce(spec: LoadSpec, serverPid: number | undefined): Promise<Measured> {
  const file = join(work, `spec-${specCounter++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const child = spawn(process.execPath, ['--require', TSX, join(__dirname, 'load.ts'), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = serverPid ?? child.pid ?? 0;
  let cpuStart = 0;
  let rss = 0;
  const sampler = setInterval(() => (rss = Math.max(rss, rssMb(pid))), 500);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const message = JSON.parse(line) as { phase: string; result?: LoadResult; error?: string };
      if (message.phase === 'measuring') {
        cpuStart = cpuMicros(pid);
      } else if (message.phase === 'done' && message.result) {
        const cpu = cpuMicros(pid) - cpuStart;
        const { result } = message;
        return { ...result, rate: result.count / result.seconds, cpuUs: cpu / Math.max(1, result.count), rssMb: rss };
      } else if (message.phase === 'failed') {
        throw new Error(`load generator failed: ${message.error}`);
      }
    }
    throw new Error('the load generator ended without a result');
  } finally {
    clearInterval(sampler);
    child.kill();
  }
}

async function startCeiling(kind: CeilingKind, files: CeilingFiles): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--require', TSX, join(__dirname, 'ceilings.ts'), kind, JSON.stringify(files)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  for await (const line of createInterface({ input: child.stdout })) {
    return { port: (JSON.parse(line) as { port: number }).port, child };
  }
  throw new Error(`the ${kind} ceiling did not start`);
}

interface Row {
  readonly name: string;
  /** The row this one is compared with, and the target ratio (none: the ratio is shown for information). */
  readonly against?: { readonly row: string; readonly target?: number };
  /** A row that must run before this one in each round because it makes this one's input (BENCH_ONLY keeps it). */
  readonly needs?: string;
  /** A keep-alive operation whose rate must stay flat with BULK_ROWS stored. */
  readonly bulk?: boolean;
  /** The spec at full speed, or paced at `rate`. */
  spec(rate?: number): LoadSpec | Promise<LoadSpec>;
  /** The process whose CPU is counted: the server or a ceiling; undefined: the load process itself. */
  readonly pid: number | undefined;
}

/**
 * h2load (package nghttp2-client) drives the gRPC sender rows beside grpc-js; installed with apt-get when missing
 * (as root, else through `sudo -n`). Answers why it is still missing, if it is.
 */
function ensureH2load(): string | undefined {
  const present = (): boolean => spawnSync('h2load', ['--version'], { stdio: 'ignore' }).status === 0;
  if (present()) {
    return undefined;
  }
  process.stderr.write('h2load is missing: installing nghttp2-client with apt-get\n');
  const aptGet = ['apt-get', 'install', '-y', '--no-install-recommends', 'nghttp2-client'];
  const [command, ...args] = process.getuid?.() === 0 ? aptGet : ['sudo', '-n', ...aptGet];
  spawnSync(command as string, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return present() ? undefined : 'h2load is missing and apt-get could not install nghttp2-client';
}

/**
 * h2load sees HTTP statuses only (a refused gRPC call is an HTTP 200 with grpc-status in the trailers), so the body
 * is tried first: 20 calls must store 20 rows in `table`. Throws (the row is then reported as failed) otherwise.
 */
async function checkH2loadBody(db: Knex, table: string, port: number, method: string, message: Buffer): Promise<void> {
  const body = join(work, `check-${specCounter++}`);
  writeFileSync(body, grpcFrame(message));
  const rows = async (): Promise<number> => Number(((await db(table).count({ n: '*' }).first()) as { n: number }).n);
  const before = await rows();
  const run = spawnSync('h2load', [...h2loadArgs(port, method, body), '--requests=20', '--clients=1'], {
    encoding: 'utf8',
  });
  const stored = (await rows()) - before;
  if (run.status !== 0 || stored !== 20) {
    throw new Error(`h2load's check of ${method}: ${stored} of 20 calls stored a row (${run.stderr.slice(0, 200)})`);
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

async function main(): Promise<void> {
  const started = Date.now();
  const h2loadMissing = ensureH2load();
  const pki = await getTestPki();
  const client = pki.clients.ecP256;
  const signer = pki.auth.ecP256;
  const write = (name: string, text: string): string => {
    const path = join(work, name);
    writeFileSync(path, text);
    return path;
  };
  const clientTls = {
    ca: pki.caFile,
    cert: write('client.pem', client.certPem),
    key: write('client.key', client.keyPem),
  };
  const serverTls = { ca: pki.caFile };
  const files: CeilingFiles = { cert: pki.serverFiles.cert, key: pki.serverFiles.key, ca: pki.caFile };
  const database = await createTestDatabase();
  const processes: ChildProcess[] = [];
  let server: ServerProcess | undefined;
  const db: Knex = knexFactory({
    client: 'mysql2',
    connection: { uri: database.url } as never,
    pool: { min: 0, max: 4 },
  });
  try {
    server = await startServerProcess(pki, database.url, [], {
      env: {
        CDOC2_SHARES_MAX_NONCES_PER_SHARE: '1000',
        // The keep-alive rows measure requests on open connections. At the default limit of 100 requests a
        // connection, the server says `Connection: close`, and autocannon, which ignores it, gets a 503 for each
        // further request on that connection: the rate would count reconnections and refusals, not requests.
        CDOC2_LIMITS_REST_MAX_REQUESTS_PER_CONNECTION: '1000000',
      },
      // A CPU profile of the server for the whole run, written when it stops (bench/profile-summary.ts reads it).
      ...(process.env['BENCH_CPU_PROF']
        ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env['BENCH_CPU_PROF'])}`] }
        : {}),
      discardOutput: true,
    });
    const serverPid = server.child.pid as number;
    const ports = server.capsulePorts;
    const sharePort = server.sharePorts.rest;
    const ceilings = Object.fromEntries(
      await Promise.all(
        (['grpc-echo', 'fastify-mtls-echo', 'fastify-tls-echo', 'tls-handshake'] as const).map(async (kind) => {
          const ceiling = await startCeiling(kind, files);
          processes.push(ceiling.child);
          return [kind, { port: ceiling.port, pid: ceiling.child.pid as number }] as const;
        }),
      ),
    ) as Record<CeilingKind, { port: number; pid: number }>;
    await db.raw('CREATE TABLE bench_capsules LIKE key_capsules');

    // Capsules for the GETs, shares for the nonces: created once, over gRPC.
    const capsule = capsuleFor(client);
    const sender = senderClient(pki, ports.grpcSender);
    const ids = await Promise.all(
      Array.from({ length: 1000 }, () =>
        grpcCreateCapsule(sender, { capsule: protoCapsule(capsule) }).then((created) => created.transactionId),
      ),
    );
    sender.close();
    const shareSender = shareSenderClient(pki, server.sharePorts.grpc);
    const recipient = `etsi/${serialNumberOf(signer)}`;
    const shareIds = await Promise.all(
      Array.from({ length: 200 }, () =>
        grpcCreateShare(shareSender, { keyShare: { share: randomBytes(32), recipient } }).then(
          (created) => created.shareId,
        ),
      ),
    );
    shareSender.close();
    const x5c = oneLinePem(signer);
    const timing = { warmupMs: WARMUP_MS, windowMs: WINDOW_MS, concurrency: CONCURRENCY };
    const paced = (rate?: number) => ({ ...timing, ...(rate ? { rate } : {}) });
    const getMessages = ids.map((transactionId) =>
      Buffer.from(GetKeyCapsuleRequest.encode({ transactionId }).finish()).toString('base64'),
    );
    const createMessage = Buffer.from(
      CreateKeyCapsuleRequest.encode({ capsule: protoCapsule(capsule), requestedExpiryTime: undefined }).finish(),
    ).toString('base64');
    const createShareMessage = Buffer.from(
      CreateKeyShareRequest.encode({
        keyShare: { share: randomBytes(32), recipient },
        requestedExpiryTime: undefined,
      }).finish(),
    ).toString('base64');
    const nonceFile = join(work, 'nonces.tsv');
    /** Tickets for the share GETs, one per nonce the last nonce POST run collected (each nonce is single-use). */
    const ticketRequests = (): { paths: string[]; headers: Record<string, string>[] } => {
      const lines = readFileSync(nonceFile, 'utf8').split('\n').filter(Boolean);
      const paths: string[] = [];
      const headers: Record<string, string>[] = [];
      for (const line of lines) {
        const [noncePath, body] = line.split('\t') as [string, string];
        const shareId = noncePath.split('/')[2] as string;
        const { nonce } = JSON.parse(body) as { nonce: string };
        const ticket = createAuthTicket({
          signer,
          urls: [`${TEST_SHARES_BASE_URL}/key-shares/${shareId}?nonce=${nonce}`],
        }).presentationFor(0);
        paths.push(`/key-shares/${shareId}`);
        headers.push({ 'x-cdoc2-auth-ticket': ticket, 'x-cdoc2-auth-x5c': x5c });
      }
      return { paths, headers };
    };
    const capsulePaths = ids.map((id) => `/key-capsules/${id}`);
    const capsuleBody = capsuleJson(capsule);
    type HttpExtra = Partial<Extract<LoadSpec, { kind: 'http' }>>;
    const http =
      (port: number, method: 'GET' | 'POST', tls: typeof clientTls | typeof serverTls, extra: HttpExtra = {}) =>
      (rate?: number): LoadSpec => ({ kind: 'http', ...paced(rate), port, method, paths: capsulePaths, tls, ...extra });
    const grpc =
      (port: number, method: string, messages: readonly string[], tls: typeof clientTls | typeof serverTls) =>
      (rate?: number): LoadSpec => ({ kind: 'grpc', ...paced(rate), port, method, messages, channels: CHANNELS, tls });
    const newConnections =
      (port: number) =>
      (rate?: number): LoadSpec => ({ kind: 'connect', ...paced(rate), port, paths: capsulePaths, tls: clientTls });
    // h2load for the sender rows only: it cannot present a client certificate (see bench/load.ts).
    const h2load =
      (port: number, method: string, message: string, table: string) =>
      async (rate?: number): Promise<LoadSpec> => {
        if (h2loadMissing) {
          throw new Error(h2loadMissing);
        }
        await checkH2loadBody(db, table, port, method, Buffer.from(message, 'base64'));
        return { kind: 'h2load', ...paced(rate), port, method, message, channels: CHANNELS };
      };
    const knex =
      (kind: 'knex-insert' | 'knex-select') =>
      (rate?: number): LoadSpec => ({ kind, ...paced(rate), url: database.url, table: 'bench_capsules' });
    const postCapsule = { paths: ['/key-capsules'], body: capsuleBody };
    const rows: Row[] = [
      {
        name: 'grpc-js mTLS echo',
        pid: ceilings['grpc-echo'].pid,
        spec: grpc(ceilings['grpc-echo'].port, ECHO_METHOD, getMessages, clientTls),
      },
      {
        name: 'gRPC GetKeyCapsule (mTLS)',
        against: { row: 'grpc-js mTLS echo', target: 0.6 },
        bulk: true,
        pid: serverPid,
        spec: grpc(ports.grpcRecipient, KeyCapsuleRecipientServiceService.getKeyCapsule.path, getMessages, clientTls),
      },
      {
        name: 'Fastify mTLS echo',
        pid: ceilings['fastify-mtls-echo'].pid,
        spec: http(ceilings['fastify-mtls-echo'].port, 'GET', clientTls),
      },
      {
        name: 'REST GET /key-capsules/{id} (mTLS)',
        against: { row: 'Fastify mTLS echo', target: 0.4 },
        bulk: true,
        pid: serverPid,
        spec: http(ports.restRecipient, 'GET', clientTls),
      },
      {
        name: 'TLS 1.3 mutual handshake',
        pid: ceilings['tls-handshake'].pid,
        spec: newConnections(ceilings['tls-handshake'].port),
      },
      {
        name: 'new mTLS connection per REST GET',
        against: { row: 'TLS 1.3 mutual handshake', target: 0.8 },
        pid: serverPid,
        spec: newConnections(ports.restRecipient),
      },
      { name: 'Knex single-row INSERT', pid: undefined, spec: knex('knex-insert') },
      { name: 'Knex PK SELECT', pid: undefined, spec: knex('knex-select') },
      {
        name: 'gRPC CreateKeyCapsule',
        against: { row: 'Knex single-row INSERT', target: 1.0 },
        bulk: true,
        pid: serverPid,
        spec: grpc(ports.grpcSender, KeyCapsuleSenderServiceService.createKeyCapsule.path, [createMessage], serverTls),
      },
      {
        name: 'gRPC CreateKeyCapsule (h2load)',
        against: { row: 'Knex single-row INSERT', target: 1.0 },
        bulk: true,
        pid: serverPid,
        spec: h2load(
          ports.grpcSender,
          KeyCapsuleSenderServiceService.createKeyCapsule.path,
          createMessage,
          'key_capsules',
        ),
      },
      {
        name: 'gRPC CreateKeyShare',
        against: { row: 'Knex single-row INSERT' },
        pid: serverPid,
        spec: grpc(
          server.sharePorts.grpc,
          KeyShareSenderServiceService.createKeyShare.path,
          [createShareMessage],
          serverTls,
        ),
      },
      {
        name: 'gRPC CreateKeyShare (h2load)',
        against: { row: 'Knex single-row INSERT' },
        pid: serverPid,
        spec: h2load(
          server.sharePorts.grpc,
          KeyShareSenderServiceService.createKeyShare.path,
          createShareMessage,
          'key_shares',
        ),
      },
      {
        name: 'Fastify TLS echo',
        pid: ceilings['fastify-tls-echo'].pid,
        spec: http(ceilings['fastify-tls-echo'].port, 'POST', serverTls, postCapsule),
      },
      {
        name: 'REST POST /key-capsules',
        against: { row: 'Fastify TLS echo', target: 0.4 },
        bulk: true,
        pid: serverPid,
        spec: http(ports.restSender, 'POST', serverTls, postCapsule),
      },
      {
        name: 'REST POST /key-shares',
        pid: serverPid,
        spec: http(sharePort, 'POST', serverTls, {
          paths: ['/key-shares'],
          body: JSON.stringify({ share: randomBytes(32).toString('base64'), recipient }),
        }),
      },
      {
        name: 'REST POST /key-shares/{id}/nonce',
        against: { row: 'REST POST /key-shares', target: 0.5 },
        pid: serverPid,
        spec: http(sharePort, 'POST', serverTls, {
          paths: shareIds.map((id) => `/key-shares/${id}/nonce`),
          collect: { file: nonceFile, what: 'body' },
        }),
      },
      {
        name: 'REST GET /key-shares/{id} (ticket)',
        against: { row: 'REST GET /key-capsules/{id} (mTLS)', target: 0.5 },
        // The tickets are signed over the nonces that row collects.
        needs: 'REST POST /key-shares/{id}/nonce',
        pid: serverPid,
        spec: (rate) => http(sharePort, 'GET', serverTls, { ...ticketRequests(), once: true })(rate),
      },
    ];

    // BENCH_ONLY=REGEX measures the rows whose name matches, with their ceilings (e.g. for a profile of one path).
    const only = process.env['BENCH_ONLY'] ? new RegExp(process.env['BENCH_ONLY']) : undefined;
    const picked = rows.filter((row) => !only || only.test(row.name));
    // With the rows they are compared with or need, and theirs in turn (the share GET brings the capsule GET and its
    // echo, and the nonce POST whose nonces its tickets sign).
    const wanted = new Set(picked.map((row) => row.name));
    for (const row of [...rows].reverse()) {
      if (wanted.has(row.name)) {
        for (const other of [row.against?.row, row.needs]) {
          if (other !== undefined) {
            wanted.add(other);
          }
        }
      }
    }
    rows.splice(0, rows.length, ...rows.filter((row) => wanted.has(row.name)));
    const runs = new Map<string, Measured[]>(rows.map((row) => [row.name, []]));
    const say = (text: string): void => void process.stderr.write(`${text}\n`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const row of rows) {
        const result = await measure(() => row.spec(), row.pid);
        runs.get(row.name)?.push(result);
        say(
          `round ${round}: ${row.name} ${result.rate.toFixed(0)}/s${result.errors ? ` (${result.errors} errors: ${result.firstError})` : ''}`,
        );
      }
    }
    const rateOf = (name: string): number => median((runs.get(name) ?? []).map((run) => run.rate));
    const pick = (name: string): Measured => {
      const all = runs.get(name) ?? [];
      const rate = rateOf(name);
      return all.find((run) => run.rate === rate) as Measured;
    };

    // Paced at half of each row's maximum: the p99 a client sees when the server is not saturated.
    const halfLoad = new Map<string, Measured>();
    for (const row of rows) {
      const result = await measure(() => row.spec(Math.max(1, Math.floor(rateOf(row.name) / 2))), row.pid);
      halfLoad.set(row.name, result);
      say(`paced: ${row.name} ${result.rate.toFixed(0)}/s p99 ${result.p99.toFixed(1)} ms`);
    }

    // The same keep-alive operations with BULK_ROWS capsules stored: bulk-loaded with multi-row INSERTs.
    const bulkStarted = Date.now();
    const rowsPerInsert = 2000;
    const recipientId = capsule.recipientId;
    for (let loaded = 0; loaded < BULK_ROWS; loaded += rowsPerInsert) {
      const now = Date.now();
      await db('key_capsules').insert(
        Array.from({ length: Math.min(rowsPerInsert, BULK_ROWS - loaded) }, () => ({
          transaction_id: `KC${randomBytes(16).toString('hex')}`,
          capsule_type: capsule.capsuleType,
          recipient_id: recipientId,
          ephemeral_key_material: capsule.ephemeralKeyMaterial,
          expires_at: now + 86_400_000,
          expiry_adjusted: false,
          created_at: now,
        })),
      );
    }
    const bulkSeconds = (Date.now() - bulkStarted) / 1000;
    say(`bulk: ${BULK_ROWS} capsules stored in ${bulkSeconds.toFixed(1)} s`);
    const withBulk = new Map<string, Measured>();
    for (const row of rows.filter((candidate) => candidate.bulk && BULK_ROWS > 0)) {
      const result = await measure(() => row.spec(), row.pid);
      withBulk.set(row.name, result);
      say(`bulk: ${row.name} ${result.rate.toFixed(0)}/s`);
    }

    // The table.
    const table: string[] = [
      '| operation | rate /s | p50 ms | p99 ms | CPU µs/req | ceiling (same run) | ratio | target | p99 at half rate | rate with ' +
        `${BULK_ROWS.toLocaleString('en')} rows |`,
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    const json: Record<string, unknown>[] = [];
    for (const row of rows) {
      const best = pick(row.name);
      // A ceiling that measured nothing gives no ratio (the table then says NOT met), never Infinity.
      const ratio = row.against && rateOf(row.against.row) > 0 ? best.rate / rateOf(row.against.row) : undefined;
      const half = halfLoad.get(row.name);
      const bulk = withBulk.get(row.name);
      const flat = bulk ? bulk.rate / best.rate : undefined;
      table.push(
        [
          row.name + (row.pid === undefined ? ' (client CPU)' : ''),
          best.rate.toFixed(0),
          best.p50.toFixed(2),
          best.p99.toFixed(2),
          best.cpuUs.toFixed(0),
          row.against ? `${row.against.row} ${rateOf(row.against.row).toFixed(0)}/s` : '',
          ratio === undefined ? '' : ratio.toFixed(2),
          row.against?.target !== undefined
            ? `≥ ${row.against.target} ${ratio !== undefined && ratio >= row.against.target ? 'met' : 'NOT met'}`
            : '',
          half ? `${half.p99.toFixed(1)} (${half.rate.toFixed(0)}/s)` : '',
          bulk && flat !== undefined ? `${bulk.rate.toFixed(0)} (${(flat * 100).toFixed(0)} %)` : '',
        ]
          .join(' | ')
          .replace(/^/, '| ')
          .concat(' |'),
      );
      json.push({
        name: row.name,
        rounds: runs.get(row.name),
        against: row.against,
        ratio,
        halfLoad: half,
        withBulk: bulk,
      });
    }
    const serverRows = new Set(rows.filter((row) => row.pid === serverPid).map((row) => row.name));
    const serverRss = Math.max(
      0,
      ...[...serverRows]
        .flatMap((name) => [...(runs.get(name) ?? []), halfLoad.get(name), withBulk.get(name)])
        .map((run) => run?.rssMb ?? 0),
    );
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
    const summary = [
      `machine: ${machine}; ${ROUNDS} rounds of ${WARMUP_MS / 1000} s warm-up + ${WINDOW_MS / 1000} s window, ${CONCURRENCY} in flight, ${CHANNELS} gRPC channels; medians shown`,
      `largest RSS of a measured process under load: ${serverRss.toFixed(0)} MB (target < 300 MB); total ${((Date.now() - started) / 1000).toFixed(0)} s`,
    ];
    process.stdout.write(`${[...table, '', ...summary].join('\n')}\n`);
    writeFileSync(
      OUT,
      JSON.stringify({ machine, rows: json, bulkRows: BULK_ROWS, bulkSeconds, serverRssMb: serverRss }, null, 2),
    );
    say(`JSON: ${OUT}`);
  } finally {
    processes.forEach((child) => child.kill());
    await server?.stop();
    await db.destroy();
    await database.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error).stack ?? error)}\n`);
  process.exitCode = 1;
});
