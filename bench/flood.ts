// `npm run flood`: the server under five kinds of abuse, each for FLOOD_SECONDS (default 60): HTTP/2 rapid reset
// (on a real method, then on one that does not exist), a stream flood, HTTP/1.1 pipelining and idle connections.
// The server runs as its own process (`cdoc2-keyserver serve`, default limits, MariaDB at MYSQL_URL); the attackers
// run on 127.0.0.1 only, bounded in count and time. For each flood it prints the liveness probe's p50/p99 (a
// GET /health/live every 100 ms on the management listener, answered by the same event loop as every listener) and
// the server's RSS and open file descriptors before, during (the peak) and after (5 s later). The floods that keep
// their attackers busy (rapid reset, streams, pipelining) run in a process of their own at a lower priority
// (test/support/attackers.ts), so that the probe, sent from here, measures the server and not the attackers' event
// loop. Not a test: numbers vary with the machine. FLOOD_NODE_ARGS passes options to the server's node (e.g. a heap
// limit).
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { connectTls } from '../test/support/abuse-clients.js';
import type { AttackPlan } from '../test/support/attacker-process.js';
import { runAttack } from '../test/support/attackers.js';
import { createTestDatabase } from '../test/support/mysql.js';
import { startServerProcess } from '../test/support/server-process.js';
import { getTestPki } from '../test/support/test-pki.js';

const SECONDS = Number(process.env['FLOOD_SECONDS'] ?? 60);
/** Options for the server's node, e.g. `--max-old-space-size=256` (README "Limits", memory). */
const NODE_ARGS = (process.env['FLOOD_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const ATTACKERS = 4;
const IDLE_CONNECTIONS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Resources {
  readonly rssMb: number;
  readonly fds: number;
}

const resourcesOf = (pid: number): Resources => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(rssKb / 1024), fds: readdirSync(`/proc/${pid}/fd`).length };
};

const probe = (port: number): Promise<number> =>
  new Promise((resolve) => {
    const started = performance.now();
    const timer = setTimeout(() => resolve(Number.POSITIVE_INFINITY), 10_000);
    request({ host: '127.0.0.1', port, path: '/health/live', agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        resolve(performance.now() - started);
      });
    })
      .on('error', () => {
        clearTimeout(timer);
        resolve(Number.POSITIVE_INFINITY);
      })
      .end();
  });

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
};

/** Runs `attack` (which must stop by `deadline`) while probing and sampling the server. */
async function measure(
  name: string,
  pid: number,
  managementPort: number,
  attack: (deadline: number) => Promise<void>,
): Promise<string> {
  const before = resourcesOf(pid);
  const deadline = Date.now() + SECONDS * 1000;
  let peak = before;
  const latencies: number[] = [];
  const attacking = attack(deadline).catch((error: unknown) => {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
  });
  while (Date.now() < deadline) {
    latencies.push(await probe(managementPort));
    const now = resourcesOf(pid);
    peak = { rssMb: Math.max(peak.rssMb, now.rssMb), fds: Math.max(peak.fds, now.fds) };
    await sleep(100);
  }
  await attacking;
  await sleep(5000);
  const after = resourcesOf(pid);
  const failed = latencies.filter((ms) => !Number.isFinite(ms)).length;
  const p = (q: number): string => {
    const value = percentile(latencies, q);
    return Number.isFinite(value) ? value.toFixed(0) : 'timeout';
  };
  return (
    `| ${name} | ${p(50)} | ${p(99)} | ${failed} | ${before.rssMb} / ${peak.rssMb} / ${after.rssMb} | ` +
    `${before.fds} / ${peak.fds} / ${after.fds} |`
  );
}

async function main(): Promise<void> {
  const pki = await getTestPki();
  const database = await createTestDatabase();
  const server = await startServerProcess(pki, database.url, [], { startTimeoutMs: 120_000, nodeArgs: NODE_ARGS });
  const pid = server.child.pid ?? 0;
  const ca = readFileSync(pki.caFile);
  const rows: string[] = [];
  const loadAtStart = loadavg();
  try {
    await sleep(2000);
    /** One of the floods of attacker-process.ts, ATTACKERS at once, until the deadline. */
    const flood = (attack: AttackPlan['attack'], port: number, deadline: number): Promise<void> =>
      runAttack({
        attack,
        port,
        ca: ca.toString(),
        cert: pki.clients.ecP256.certPem,
        key: pki.clients.ecP256.keyPem,
        connections: ATTACKERS,
        durationMs: Math.max(0, deadline - Date.now()),
      }).then(() => undefined);
    rows.push(
      await measure('rapid reset (4 attackers, reconnecting)', pid, server.managementPort, (deadline) =>
        flood({ kind: 'rapid-reset' }, server.capsulePorts.grpcSender, deadline),
      ),
    );
    rows.push(
      await measure('rapid reset, a method that does not exist', pid, server.managementPort, (deadline) =>
        flood(
          { kind: 'rapid-reset', path: '/cdoc2.capsules.v1.NoSuchService/NoSuchMethod' },
          server.capsulePorts.grpcSender,
          deadline,
        ),
      ),
    );
    rows.push(
      await measure('stream flood (4 x 5,000 open streams)', pid, server.managementPort, (deadline) =>
        flood({ kind: 'streams', streams: 5000 }, server.capsulePorts.grpcSender, deadline),
      ),
    );
    rows.push(
      await measure('pipelining (4 x 2,000 GETs, mutual TLS)', pid, server.managementPort, (deadline) =>
        flood(
          { kind: 'pipeline', requests: 2000, path: `/key-capsules/KC${'0'.repeat(32)}` },
          server.capsulePorts.restRecipient,
          deadline,
        ),
      ),
    );
    rows.push(
      await measure(`idle connections (${IDLE_CONNECTIONS} opened)`, pid, server.managementPort, async (deadline) => {
        const held: TLSSocket[] = [];
        for (let i = 0; i < IDLE_CONNECTIONS && Date.now() < deadline; i++) {
          const port = i % 2 === 0 ? server.capsulePorts.grpcSender : server.capsulePorts.restSender;
          await connectTls({ port, ca }, [port === server.capsulePorts.grpcSender ? 'h2' : 'http/1.1']).then(
            (socket) => held.push(socket),
            () => undefined,
          );
        }
        await sleep(Math.max(0, deadline - Date.now()));
        held.forEach((socket) => socket.destroy());
      }),
    );
  } finally {
    await server.stop('SIGTERM');
    await database.drop();
  }
  process.stdout.write(
    [
      `flood: ${SECONDS} s each, server node options: ${NODE_ARGS.join(' ') || 'none'}, load average at the start ${loadAtStart
        .map((n) => n.toFixed(1))
        .join(' ')}, at the end ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')}`,
      '',
      '| flood | probe p50 ms | probe p99 ms | probes failed | RSS MB before / peak / after | fds before / peak / after |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  );
}

void main();
