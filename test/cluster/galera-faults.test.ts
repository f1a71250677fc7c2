// test-pki.ts (loaded by test-server.ts) loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { expect } from 'chai';
import { capsuleFor, protoCapsule, type TestCapsule } from '../support/capsule-fixtures.js';
import { restCreateCapsule } from '../support/rest-round-trip.js';
import { startGaleraCluster, type GaleraCluster } from '../support/galera-cluster.js';
import { grpcCreateCapsule, grpcCreateShare, grpcGetCapsule, readiness } from '../support/test-server.js';
import { grpcCode, startInstance, stopInstance, type Instance } from './cluster-instances.js';

const CLIENTS = 16;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the clients saw: acknowledged ids, and every failure by gRPC status. */
interface Tally {
  readonly capsules: string[];
  readonly shares: string[];
  readonly failures: Map<string, number>;
  /** Operations that failed with UNAVAILABLE and then succeeded when the client tried again. */
  retriedOk: number;
  /** Operations that succeeded after `mark` was set. */
  afterMark: number;
  mark: boolean;
}

/**
 * Runs `operation` until it succeeds, as a client would: UNAVAILABLE is the answer that says "try again"; any
 * other failure is counted and ends the operation. Gives up (and counts it) after 60 s.
 */
async function untilDone(tally: Tally, operation: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 60_000;
  let retried = false;
  for (;;) {
    try {
      await operation();
      if (retried) {
        tally.retriedOk += 1;
      }
      if (tally.mark) {
        tally.afterMark += 1;
      }
      return;
    } catch (error) {
      const code = grpcCode(error);
      tally.failures.set(code, (tally.failures.get(code) ?? 0) + 1);
      if (code !== 'UNAVAILABLE' || Date.now() > deadline) {
        tally.failures.set(`gave up after ${code}`, (tally.failures.get(`gave up after ${code}`) ?? 0) + 1);
        return;
      }
      retried = true;
      await delay(100);
    }
  }
}

/**
 * Faults of a three-node Galera cluster under running servers: one node killed under load, and the loss of quorum.
 * The servers reach the cluster through HAProxy (one instance through the multi-writer listener, one through the
 * single-writer listener, whose writer is node 1, the node that is killed), plus one instance connected to node 1
 * directly for the quorum case.
 */
describe('Galera cluster: faults', function () {
  this.timeout(600_000);
  let cluster: GaleraCluster;
  let multi: Instance;
  let single: Instance;
  let capsule: TestCapsule;

  before(async () => {
    cluster = await startGaleraCluster();
    multi = await startInstance(cluster.multiWriterUrl);
    single = await startInstance(cluster.singleWriterUrl);
    capsule = capsuleFor(multi.server.pki.clients.ecP256);
  });
  after(async () => {
    await stopInstance(multi);
    await stopInstance(single);
    await cluster?.destroy();
  });

  it(`loses no acknowledged capsule or share when node 1 is killed under ${CLIENTS} clients; the node rejoins`, async () => {
    const tally: Tally = { capsules: [], shares: [], failures: new Map(), retriedOk: 0, afterMark: 0, mark: false };
    let running = true;
    const client = async (index: number): Promise<void> => {
      // Writes through one listener, reads through the other: each read crosses nodes or layouts.
      const writer = index % 2 === 0 ? multi : single;
      const reader = index % 2 === 0 ? single : multi;
      for (let round = 0; running; round++) {
        let id = '';
        await untilDone(tally, async () => {
          id = (await grpcCreateCapsule(writer.capsuleSender, { capsule: protoCapsule(capsule) })).transactionId;
          tally.capsules.push(id);
        });
        if (id) {
          await untilDone(tally, async () => {
            const fetched = await grpcGetCapsule(reader.capsuleRecipient, { transactionId: id });
            expect(fetched.capsule).to.not.equal(undefined);
          });
        }
        if (round % 3 === 0) {
          await untilDone(tally, async () => {
            const created = await grpcCreateShare(writer.shareSender, {
              keyShare: { share: randomBytes(32), recipient: 'etsi/PNOEE-48010010101' },
            });
            tally.shares.push(created.shareId);
          });
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, index) => client(index));

    await delay(3000);
    const beforeKill = tally.capsules.length;
    await cluster.kill(0);
    await cluster.waitForProxyState('multi-writer', 0, 'DOWN');
    await cluster.waitForProxyState('single-writer', 0, 'DOWN');
    // HAProxy has moved on: from now on the servers must work again, without a restart.
    tally.mark = true;
    const deadline = Date.now() + 60_000;
    while (tally.afterMark < 200 && Date.now() < deadline) {
      await delay(250);
    }
    running = false;
    await Promise.all(clients);

    expect(beforeKill, 'capsules stored before the kill').to.be.above(0);
    expect(tally.afterMark, 'operations that succeeded once HAProxy had moved on').to.be.at.least(200);
    // The requests in flight on node 1 were answered UNAVAILABLE, and succeeded when the client tried again.
    expect(tally.retriedOk, 'operations that succeeded on a retry').to.be.above(0);
    const failures = Object.fromEntries(tally.failures);
    expect(
      Object.keys(failures).filter((code) => code !== 'UNAVAILABLE'),
      JSON.stringify(failures),
    ).to.deep.equal([]);
    for (const instance of [multi, single]) {
      expect(await readiness(instance.server.app.managementPort ?? 0)).to.equal(200);
    }

    await cluster.restart(0);
    for (const node of [0, 1, 2]) {
      await cluster.waitForClusterSize(node, 3);
    }
    expect(cluster.lastStateTransfer(0)).to.be.oneOf(['IST', 'SST']);

    // Every acknowledged write is on every node, the rejoined one included.
    for (const node of [0, 1, 2]) {
      for (const [table, key, ids] of [
        ['key_capsules', 'transaction_id', tally.capsules],
        ['key_shares', 'share_id', tally.shares],
      ] as const) {
        for (let from = 0; from < ids.length; from += 500) {
          const chunk = ids.slice(from, from + 500);
          const [row] = await cluster.query<{ n: number }>(
            node,
            `SELECT COUNT(*) AS n FROM cdoc2.${table} WHERE ${key} IN (${chunk.map(() => '?').join(',')})`,
            chunk,
          );
          expect(Number(row?.n), `${table} on node${node + 1}`).to.equal(chunk.length);
        }
      }
    }
    // And served: each acknowledged capsule read back through the single-writer listener, which moves back to node 1
    // meanwhile (cutting its sessions on the backup: the requests on them get UNAVAILABLE, and succeed again).
    const readBack: Tally = { capsules: [], shares: [], failures: new Map(), retriedOk: 0, afterMark: 0, mark: true };
    for (const transactionId of tally.capsules) {
      await untilDone(readBack, async () => {
        await grpcGetCapsule(single.capsuleRecipient, { transactionId });
      });
    }
    expect(readBack.afterMark).to.equal(tally.capsules.length);
    expect([...readBack.failures.keys()].filter((code) => code !== 'UNAVAILABLE')).to.deep.equal([]);
    await cluster.waitForProxyState('single-writer', 0, 'UP');
  });

  it('answers 503 / UNAVAILABLE without quorum (two nodes frozen), and recovers by itself when quorum returns', async () => {
    const direct = await startInstance(cluster.nodeUrl(0));
    try {
      const statuses = new Set<number>();
      const post = async (instance: Instance): Promise<number> => {
        const response = await restCreateCapsule(instance.server.pki, instance.server.ports.restSender, capsule);
        statuses.add(response.status);
        return response.status;
      };
      expect(await post(direct)).to.equal(201);

      cluster.freeze(1);
      cluster.freeze(2);
      // Node 1 is alone: after the failure-detection timeouts it is a non-Primary component and refuses statements.
      await waitFor('node1 non-Primary', async () => {
        const [row] = await cluster.query<{ Value: string }>(0, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'");
        return row?.Value === 'non-Primary';
      });
      const refused = await cluster.query(0, 'SELECT COUNT(*) FROM cdoc2.key_capsules').then(
        () => 'answered',
        (error: { errno?: number }) => error.errno,
      );
      expect(refused, 'a non-Primary node refuses reads with 1047').to.equal(1047);

      for (const instance of [direct, multi, single]) {
        await waitFor('503 from every instance', async () => (await post(instance)) === 503);
        await grpcCreateCapsule(instance.capsuleSender, { capsule: protoCapsule(capsule) }).then(
          () => expect.fail('a capsule was stored without quorum'),
          (error: unknown) => expect(grpcCode(error)).to.equal('UNAVAILABLE'),
        );
        await instance.server.app.refreshHealth();
        expect(await readiness(instance.server.app.managementPort ?? 0)).to.equal(503);
      }
      // The instance on node 1 reaches its node, which refuses statements: readiness says why.
      expect(await readinessChecks(direct.server.app.managementPort ?? 0)).to.deep.equal({
        database: 'cluster node not ready',
        schema: 'unknown',
      });

      cluster.thaw(1);
      cluster.thaw(2);
      for (const node of [0, 1, 2]) {
        await cluster.waitForClusterSize(node, 3);
      }
      for (const instance of [direct, multi, single]) {
        await waitFor('201 from every instance', async () => (await post(instance)) === 201);
        expect(await readiness(instance.server.app.managementPort ?? 0)).to.equal(200);
      }
      // Never an internal error on the way: only success or "try again".
      expect([...statuses].sort()).to.deep.equal([201, 503]);
    } finally {
      cluster.thaw(1);
      cluster.thaw(2);
      await stopInstance(direct);
    }
  });
});

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await delay(500);
  }
}

/** The `checks` of GET /health/ready. */
const readinessChecks = (port: number): Promise<unknown> =>
  new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/health/ready' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { checks: unknown }).checks));
    }).on('error', reject);
  });
