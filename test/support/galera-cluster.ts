import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect as connectSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort, installDataDirectory, waitForSql } from './private-mariadb.js';

/**
 * A three-node MariaDB Galera cluster of the test's own on 127.0.0.1, behind HAProxy, started by the suites that
 * need it and removed by them (nothing is left running; the shared MariaDB on 3306 is never touched).
 *
 * - Each node has its own data directory, SQL, group-communication (gcomm), IST and rsync-SST ports, and its own
 *   defaults file (so that neither the node nor its state-transfer script reads the machine's my.cnf).
 * - Node 1 bootstraps the cluster (`--wsrep-new-cluster`); nodes 2 and 3 join it by rsync SST. A node restarted
 *   later rejoins by IST from the gcache (or SST when IST is not possible).
 * - HAProxy (TCP mode) has two listeners: `multiWriterUrl` balances connections over all three nodes;
 *   `singleWriterUrl` sends everything to node 1 while it is healthy, then to node 2, then node 3 (backups).
 *   Its health check asks a small HTTP responder of this harness that answers 200 only while the node's
 *   `wsrep_local_state` is 4 (Synced) and `wsrep_ready` is ON: the "clustercheck" pattern. A node that is down,
 *   frozen, donating, joining or in a non-primary component is taken out of rotation, and its client sessions
 *   are cut (`on-marked-down shutdown-sessions`) so that pooled connections move on.
 */
export interface GaleraCluster {
  /** `mysql://root@127.0.0.1:<haproxy multi-writer port>/cdoc2` */
  readonly multiWriterUrl: string;
  /** `mysql://root@127.0.0.1:<haproxy single-writer port>/cdoc2` */
  readonly singleWriterUrl: string;
  /** `mysql://root@127.0.0.1:<node port>/cdoc2`, bypassing HAProxy (index 0..2). */
  nodeUrl(index: number): string;
  /** Runs one statement on one node (bypassing HAProxy) and returns its rows. */
  query<Row = Record<string, unknown>>(index: number, sql: string, values?: unknown[]): Promise<Row[]>;
  /** `kill -9` of the node's mariadbd. */
  kill(index: number): Promise<void>;
  /** SIGSTOP / SIGCONT: the node stops answering without closing anything, as behind a network partition. */
  freeze(index: number): void;
  thaw(index: number): void;
  /** Starts a stopped node again; it rejoins the cluster (IST or SST) and is Synced when this resolves. */
  restart(index: number): Promise<void>;
  /** Resolves when `index` sees a Primary component of `size` nodes and is Synced. */
  waitForClusterSize(index: number, size: number, timeoutMs?: number): Promise<void>;
  /** Resolves when HAProxy reports `server` (node1..node3) of `listener` in `state` (UP or DOWN). */
  waitForProxyState(listener: Listener, server: number, state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /** How the last restart of `index` got its state: 'IST' or 'SST' (from the node's error log). */
  lastStateTransfer(index: number): 'IST' | 'SST' | 'unknown';
  destroy(): Promise<void>;
}

export type Listener = 'multi-writer' | 'single-writer';

const NODES = 3;
/**
 * The account the nodes run as. Not root: the rsync SST joiner starts an rsync daemon, which as root would switch
 * to `nobody` and could not write the data directory. `mysql` is the account Debian's mariadb-server creates.
 */
const NODE_USER = 'mysql';
const PROVIDER_CANDIDATES = [
  '/usr/lib/galera/libgalera_smm.so',
  '/usr/lib/libgalera_smm.so',
  '/usr/lib64/galera-4/libgalera_smm.so',
];

/** The installed galera-4 provider (Debian: package galera-4). */
export function galeraProvider(): string {
  const found = PROVIDER_CANDIDATES.find((path) => existsSync(path));
  if (!found) {
    throw new Error(`libgalera_smm.so not found (install galera-4); looked in ${PROVIDER_CANDIDATES.join(', ')}`);
  }
  return found;
}

interface NodePorts {
  readonly sql: number;
  readonly gcomm: number;
  readonly ist: number;
  readonly sst: number;
  readonly check: number;
}

interface Node {
  readonly index: number;
  readonly dir: string;
  readonly ports: NodePorts;
  child?: ChildProcess;
  exited?: Promise<void>;
  /** Length of the error log when the node was last started (to read only what this start wrote). */
  logOffset: number;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) {
        return;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await delay(250);
  }
}

/**
 * The node's defaults file: what a Galera node needs (ROW binlog, interleaved auto-increment locks, InnoDB), the
 * provider and its addresses, and failure-detection timeouts shorter than the defaults so that a dead node is
 * evicted in seconds (still far above loopback latency on a busy machine).
 */
function nodeConfig(node: Node, all: readonly Node[], clusterName: string, provider: string): string {
  const { ports, dir } = node;
  const providerOptions = [
    `gmcast.listen_addr=tcp://127.0.0.1:${ports.gcomm}`,
    `ist.recv_addr=127.0.0.1:${ports.ist}`,
    'gcache.size=64M',
    'evs.keepalive_period=PT1S',
    'evs.inactive_check_period=PT1S',
    'evs.suspect_timeout=PT4S',
    'evs.inactive_timeout=PT8S',
    'evs.install_timeout=PT8S',
    'pc.wait_prim_timeout=PT60S',
  ].join(';');
  return [
    '[mysqld]',
    `datadir=${join(dir, 'data')}`,
    `port=${ports.sql}`,
    'bind-address=127.0.0.1',
    `socket=${join(dir, 'mysqld.sock')}`,
    `pid-file=${join(dir, 'mysqld.pid')}`,
    `log-error=${join(dir, 'error.log')}`,
    `user=${NODE_USER}`,
    'skip-name-resolve',
    'character-set-server=utf8mb4',
    'innodb_buffer_pool_size=48M',
    'innodb_flush_log_at_trx_commit=2',
    'default_storage_engine=InnoDB',
    'binlog_format=ROW',
    'innodb_autoinc_lock_mode=2',
    'wsrep_on=ON',
    `wsrep_provider=${provider}`,
    `wsrep_provider_options="${providerOptions}"`,
    `wsrep_cluster_name=${clusterName}`,
    `wsrep_cluster_address=gcomm://${all.map((other) => `127.0.0.1:${other.ports.gcomm}`).join(',')}`,
    `wsrep_node_name=node${node.index + 1}`,
    `wsrep_node_address=127.0.0.1:${ports.gcomm}`,
    `wsrep_node_incoming_address=127.0.0.1:${ports.sql}`,
    'wsrep_sst_method=rsync',
    `wsrep_sst_receive_address=127.0.0.1:${ports.sst}`,
    '',
  ].join('\n');
}

function haproxyConfig(nodes: readonly Node[], multi: number, single: number, socket: string): string {
  const servers = (backup: boolean) =>
    nodes.map(
      (node) =>
        `  server node${node.index + 1} 127.0.0.1:${node.ports.sql} check port ${node.ports.check}` +
        (backup && node.index > 0 ? ' backup' : ''),
    );
  return [
    'global',
    '  maxconn 1000',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 3s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 3s',
    '  option httpchk GET /',
    '  http-check expect status 200',
    '  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions',
    'listen multi-writer',
    `  bind 127.0.0.1:${multi}`,
    '  balance leastconn',
    ...servers(false),
    'listen single-writer',
    `  bind 127.0.0.1:${single}`,
    // Back to node 1 when it returns; the backups' sessions are cut so that there is one writer again.
    '  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions',
    ...servers(true),
    '',
  ].join('\n');
}

/** True while the node is Synced (wsrep_local_state 4) and ready: what the clustercheck responder reports. */
async function isSynced(port: number): Promise<boolean> {
  try {
    const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 2000 });
    try {
      const [rows] = await connection.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_ready')",
      );
      const status = new Map(
        (rows as { Variable_name: string; Value: string }[]).map((row) => [row.Variable_name, row.Value]),
      );
      return status.get('wsrep_local_state') === '4' && status.get('wsrep_ready') === 'ON';
    } finally {
      connection.destroy();
    }
  } catch {
    return false;
  }
}

/** The clustercheck responder of one node: 200 while the node is Synced and ready, 503 otherwise. */
function startCheckResponder(node: Node): Promise<Server> {
  const server = createHttpServer((_request, response) => {
    void isSynced(node.ports.sql).then((healthy) => {
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain', connection: 'close' });
      response.end(healthy ? 'synced\n' : 'not synced\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(node.ports.check, '127.0.0.1', () => resolve(server));
  });
}

/** `show stat` over HAProxy's admin socket: the state of each server of each listener. */
function proxyStates(socket: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const connection = connectSocket(socket);
    let text = '';
    connection.on('data', (chunk: Buffer) => (text += chunk.toString()));
    connection.on('error', reject);
    connection.on('end', () => {
      const lines = text.split('\n').filter((line) => line.length > 0);
      const header = (lines[0] ?? '').replace(/^# /, '').split(',');
      const at = (name: string) => header.indexOf(name);
      const states = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const fields = line.split(',');
        states.set(`${fields[at('pxname')]}/${fields[at('svname')]}`, fields[at('status')] ?? '');
      }
      resolve(states);
    });
    connection.end('show stat\n');
  });
}

export async function startGaleraCluster(): Promise<GaleraCluster> {
  const provider = galeraProvider();
  const root = mkdtempSync(join(tmpdir(), 'cdoc2-galera-'));
  const clusterName = `cdoc2-test-${randomBytes(4).toString('hex')}`;
  const nodes: Node[] = [];
  for (let index = 0; index < NODES; index++) {
    const dir = join(root, `node${index + 1}`);
    mkdirSync(dir);
    nodes.push({
      index,
      dir,
      logOffset: 0,
      ports: {
        sql: await freePort(),
        gcomm: await freePort(),
        ist: await freePort(),
        sst: await freePort(),
        check: await freePort(),
      },
    });
  }
  const checkResponders: Server[] = [];
  let haproxy: ChildProcess | undefined;
  let haproxyExited: Promise<void> | undefined;
  const socket = join(root, 'haproxy.sock');

  const node = (index: number): Node => {
    const found = nodes[index];
    if (!found) {
      throw new Error(`no node ${index}`);
    }
    return found;
  };
  const running = (target: Node): boolean =>
    target.child !== undefined && target.child.exitCode === null && target.child.signalCode === null;
  const errorLog = (target: Node): string => {
    const file = join(target.dir, 'error.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  };

  const launch = async (target: Node, bootstrap: boolean): Promise<void> => {
    target.logOffset = errorLog(target).length;
    const child = spawn(
      'mariadbd',
      [`--defaults-file=${join(target.dir, 'my.cnf')}`, ...(bootstrap ? ['--wsrep-new-cluster'] : [])],
      { stdio: 'ignore' },
    );
    target.child = child;
    target.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    try {
      await waitForSql(target.ports.sql, 120_000, () => running(target), 'SELECT 1');
      await waitForClusterSize(target.index, 0, 120_000);
    } catch (error) {
      throw new Error(
        `node${target.index + 1} did not start: ${errorLog(target).slice(target.logOffset).slice(-3000)}`,
        {
          cause: error,
        },
      );
    }
  };

  const query = async <Row>(index: number, sql: string, values: unknown[] = []): Promise<Row[]> => {
    const connection = await createConnection({
      host: '127.0.0.1',
      port: node(index).ports.sql,
      user: 'root',
      connectTimeout: 3000,
    });
    try {
      const [rows] = await connection.query(sql, values);
      return rows as Row[];
    } finally {
      connection.destroy();
    }
  };

  const status = async (index: number): Promise<Map<string, string>> => {
    const rows = await query<{ Variable_name: string; Value: string }>(
      index,
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_cluster_status', 'wsrep_local_state', 'wsrep_ready')",
    );
    return new Map(rows.map((row) => [row.Variable_name, row.Value]));
  };

  /** size 0: any Primary size. */
  const waitForClusterSize = (index: number, size: number, timeoutMs = 120_000): Promise<void> =>
    waitUntil(`node${index + 1} Synced in a Primary component of ${size || 'any'} nodes`, timeoutMs, async () => {
      const now = await status(index);
      return (
        now.get('wsrep_cluster_status') === 'Primary' &&
        now.get('wsrep_local_state') === '4' &&
        now.get('wsrep_ready') === 'ON' &&
        (size === 0 || now.get('wsrep_cluster_size') === String(size))
      );
    });

  const stopNode = async (target: Node): Promise<void> => {
    const child = target.child;
    if (!child || !running(target)) {
      return;
    }
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await target.exited;
    clearTimeout(timer);
  };

  const destroy = async (): Promise<void> => {
    if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
      haproxy.kill('SIGTERM');
      await haproxyExited;
    }
    await Promise.all(checkResponders.map((server) => new Promise((resolve) => server.close(resolve))));
    // Nodes 2 and 3 first, so that node 1 leaves last and the shutdown is orderly.
    await Promise.all(nodes.slice(1).map(stopNode));
    await stopNode(node(0));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    for (const target of nodes) {
      writeFileSync(join(target.dir, 'my.cnf'), nodeConfig(target, nodes, clusterName, provider));
    }
    // Each data directory gets its own system tables; those of the joiners are replaced by the SST.
    chmodSync(root, 0o755);
    for (const target of nodes) {
      installDataDirectory(join(target.dir, 'data'), NODE_USER);
      const owner = spawnSync('chown', ['-R', `${NODE_USER}:`, target.dir], { encoding: 'utf8' });
      if (owner.status !== 0) {
        throw new Error(`chown ${target.dir} failed: ${owner.stderr}`);
      }
    }
    await launch(node(0), true);
    await query(0, 'CREATE DATABASE IF NOT EXISTS cdoc2 CHARACTER SET utf8mb4');
    // One joiner at a time: node 1 is the donor of each SST.
    await launch(node(1), false);
    await launch(node(2), false);
    await waitForClusterSize(0, NODES);

    for (const target of nodes) {
      checkResponders.push(await startCheckResponder(target));
    }
    const multi = await freePort();
    const single = await freePort();
    const config = join(root, 'haproxy.cfg');
    writeFileSync(config, haproxyConfig(nodes, multi, single, socket));
    const proxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let proxyErrors = '';
    proxy.stderr?.on('data', (chunk: Buffer) => (proxyErrors += chunk.toString()));
    haproxy = proxy;
    haproxyExited = new Promise((resolve) => proxy.once('exit', () => resolve()));
    const cluster: GaleraCluster = {
      multiWriterUrl: `mysql://root@127.0.0.1:${multi}/cdoc2`,
      singleWriterUrl: `mysql://root@127.0.0.1:${single}/cdoc2`,
      nodeUrl: (index) => `mysql://root@127.0.0.1:${node(index).ports.sql}/cdoc2`,
      query,
      kill: async (index) => {
        const target = node(index);
        target.child?.kill('SIGKILL');
        await target.exited;
      },
      freeze: (index) => void node(index).child?.kill('SIGSTOP'),
      thaw: (index) => void node(index).child?.kill('SIGCONT'),
      restart: (index) => launch(node(index), false),
      waitForClusterSize,
      waitForProxyState: (listener, server, state, timeoutMs = 60_000) =>
        waitUntil(`HAProxy ${listener}/node${server + 1} ${state}`, timeoutMs, async () => {
          if (proxy.exitCode !== null) {
            throw new Error(`haproxy exited: ${proxyErrors}`);
          }
          return (await proxyStates(socket)).get(`${listener}/node${server + 1}`) === state;
        }),
      lastStateTransfer: (index) => {
        const target = node(index);
        const log = errorLog(target).slice(target.logOffset);
        // The joiner's rsync script logs "rsync SST completed on joiner", or "rsync IST completed …" when the donor
        // answered that the gcache suffices (bypass).
        const transfer = /rsync (SST|IST) completed on joiner/.exec(log)?.[1];
        return transfer === 'SST' || transfer === 'IST' ? transfer : 'unknown';
      },
      destroy,
    };
    for (let index = 0; index < NODES; index++) {
      await cluster.waitForProxyState('multi-writer', index, 'UP');
    }
    await cluster.waitForProxyState('single-writer', 0, 'UP');
    return cluster;
  } catch (error) {
    await destroy();
    throw error;
  }
}
