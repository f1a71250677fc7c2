// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { prepareAuthTicket, presentationFor, shareTicketUrl, signedJwt } from '../../src/domain/shares/auth-ticket.js';
import {
  createKeyServerClient,
  NotAuthorizedError,
  OrganizationDuplicateError,
  ServerNotTrustedError,
  softwareSigner,
  ThresholdNotMetError,
  type KeyServerClient,
  type ShareProgress,
  type SharedSecret,
  type TicketSigner,
} from '../../src/client/index.js';
import {
  freePorts,
  otherLocalhostCertificate,
  startTlsRecorder,
  testServerList,
  type TlsRecorder,
} from '../support/client-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/mysql.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

/**
 * Scheme SC07 and SC08 end to end (README "The shares server"): five shares server processes, each
 * with its own MariaDB database and run by its own organization; servers 1, 3 and 5 are reached over REST, 2 and 4
 * over gRPC. The recipient signs once per secret.
 */
const COUNT = 5;

/** Counts signatures: one per fetched secret, however many servers. */
function countingSigner(inner: TicketSigner): TicketSigner & { calls: number } {
  const signer = {
    calls: 0,
    algorithm: inner.algorithm,
    sign: (input: Uint8Array) => {
      signer.calls += 1;
      return inner.sign(input);
    },
  };
  return signer;
}

describe('client library: secrets split across shares server processes of distinct organizations', function () {
  // Five server processes start (and compile) on a shared machine.
  this.timeout(180_000);
  let pki: TestPki;
  let databases: TestDatabase[] = [];
  let processes: ServerProcess[] = [];
  let recorder: TlsRecorder;
  let client: KeyServerClient;
  const ids = Array.from({ length: COUNT }, (_, index) => `css-${index + 1}`);

  before(async () => {
    pki = await getTestPki();
    const ports = await freePorts(2 * COUNT);
    databases = await Promise.all(ids.map(() => createTestDatabase()));
    const started = await Promise.allSettled(
      ids.map((_, index) => {
        const rest = ports[2 * index] ?? 0;
        const grpc = ports[2 * index + 1] ?? 0;
        return startServerProcess(pki, databases[index]?.url ?? '', [], {
          shareBaseUrls: [`https://localhost:${rest}`, `https://localhost:${grpc}`],
          sharePorts: { rest, grpc },
          startTimeoutMs: 120_000,
        });
      }),
    );
    // Keep every process that did start, so that `after` stops it even when another one failed.
    processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
    recorder = await startTlsRecorder(await otherLocalhostCertificate(pki));
    client = createKeyServerClient({
      timeoutMs: 10_000,
      attempts: 1,
      servers: testServerList(pki, [
        ...ids.map((id, index) => {
          const { rest, grpc } = processes[index]?.sharePorts ?? { rest: 0, grpc: 0 };
          const url = index % 2 === 0 ? `https://localhost:${rest}` : `grpcs://localhost:${grpc}`;
          return {
            id,
            capsuleType: 'KeySharesCapsule' as const,
            organization: `org-${index + 1}`,
            senderUrl: url,
            recipientUrl: url,
          };
        }),
        {
          id: 'css-1-twin',
          capsuleType: 'KeySharesCapsule',
          organization: 'org-1',
          senderUrl: `https://localhost:${processes[0]?.sharePorts.rest ?? 0}`,
          recipientUrl: `https://localhost:${processes[0]?.sharePorts.rest ?? 0}`,
        },
        {
          id: 'css-impostor',
          capsuleType: 'KeySharesCapsule',
          organization: 'org-impostor',
          senderUrl: `https://localhost:${recorder.port}`,
          recipientUrl: `grpcs://localhost:${recorder.port}`,
        },
      ]),
    });
  });
  after(async () => {
    await recorder?.close();
    await Promise.all(processes.map((server) => server.stop()));
    await Promise.all(databases.map((database) => database.drop()));
  });

  const person = () => pki.auth.rsa2048;
  const recipient = () => 'etsi/PNOEE-38001085718';
  const signer = () => countingSigner(softwareSigner(person().certPem, person().keyPem));

  /** A random 32-byte secret stored 3-of-5 (Shamir) on all five servers. */
  async function storeThreeOfFive(): Promise<{ secret: Buffer; shared: SharedSecret }> {
    const secret = randomBytes(32);
    const shared = await client.storeSecret({
      secret,
      recipient: recipient(),
      servers: ids,
      scheme: { kind: 'shamir', threshold: 3 },
    });
    return { secret, shared };
  }

  it('recombines a 3-of-3 XOR secret from three servers (two REST, one gRPC) with one signature', async () => {
    const secret = randomBytes(32);
    const progress: ShareProgress[] = [];
    const shared = await client.storeSecret({
      secret,
      recipient: recipient(),
      servers: ['css-1', 'css-2', 'css-3'],
      onProgress: (event) => progress.push(event),
    });
    expect(shared).to.include({ recipient: recipient(), scheme: 'n-of-n', threshold: 3 });
    expect(shared.shares.map((share) => share.server)).to.deep.equal(['css-1', 'css-2', 'css-3']);
    const once = signer();
    const recovered = await client.fetchSecret({
      secret: shared,
      signer: once,
      onProgress: (event) => progress.push(event),
    });
    expect(Buffer.from(recovered).equals(secret)).to.equal(true);
    expect(once.calls, 'signatures').to.equal(1);
    expect(progress.filter((event) => event.step === 'stored')).to.have.length(3);
    expect(progress.filter((event) => event.step === 'fetched')).to.have.length(3);
    expect(progress.find((event) => event.step === 'signed')).to.deep.equal({
      step: 'signed',
      servers: ['css-1', 'css-2', 'css-3'],
    });
  });

  it('fails an n-of-n fetch when one share is missing, naming the server', async () => {
    const shared = await client.storeSecret({
      secret: randomBytes(32),
      recipient: recipient(),
      servers: ['css-1', 'css-2'],
    });
    const broken: SharedSecret = {
      ...shared,
      shares: [shared.shares[0] ?? { server: '', shareId: '' }, { server: 'css-2', shareId: 'f'.repeat(32) }],
    };
    const error = await client.fetchSecret({ secret: broken, signer: signer() }).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(ThresholdNotMetError);
    expect((error as Error).message).to.match(/1 of the 2 shares.*css-2/);
  });

  it('recovers a 3-of-5 Shamir secret from every 3 of the 5 servers, one signature each time', async () => {
    const { secret, shared } = await storeThreeOfFive();
    expect(shared).to.include({ scheme: 'shamir', threshold: 3 });
    const triples: number[][] = [];
    for (let a = 0; a < COUNT; a++) {
      for (let b = a + 1; b < COUNT; b++) {
        for (let c = b + 1; c < COUNT; c++) {
          triples.push([a, b, c]);
        }
      }
    }
    for (const triple of triples) {
      const once = signer();
      const subset = { ...shared, shares: triple.map((index) => shared.shares[index] ?? { server: '', shareId: '' }) };
      const recovered = await client.fetchSecret({ secret: subset, signer: once });
      expect(Buffer.from(recovered).equals(secret), `servers ${triple.map((index) => index + 1).join(',')}`).to.equal(
        true,
      );
      expect(once.calls).to.equal(1);
    }
  });

  it('refuses two servers of one organization, naming both', async () => {
    const error = await client
      .storeSecret({ secret: randomBytes(32), recipient: recipient(), servers: ['css-1', 'css-2', 'css-1-twin'] })
      .catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(OrganizationDuplicateError);
    expect((error as Error).message).to.match(/css-1 and css-1-twin are both run by organization "org-1"/);
  });

  it('never sends a share to a server whose valid certificate is not pinned', async () => {
    const error = await client
      .storeSecret({ secret: randomBytes(32), recipient: recipient(), servers: ['css-1', 'css-impostor'] })
      .catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(ServerNotTrustedError);
    expect((error as ServerNotTrustedError).serverId).to.equal('css-impostor');
    const nonce = await client.createNonce('css-impostor', 'f'.repeat(32)).catch((caught: unknown) => caught);
    expect(nonce).to.be.instanceOf(ServerNotTrustedError);
    expect(recorder.connections()).to.be.greaterThan(1);
    expect(recorder.bytesReceived(), 'application bytes received by the impostor').to.equal(0);
  });

  it("refuses a share presented with another server's disclosure of the same ticket", async () => {
    const shared = await client.storeSecret({
      secret: randomBytes(32),
      recipient: recipient(),
      servers: ['css-1', 'css-3'],
    });
    const [first, second] = shared.shares;
    const nonces = [
      await client.createNonce('css-1', first?.shareId ?? ''),
      await client.createNonce('css-3', second?.shareId ?? ''),
    ];
    const servers = [client.servers.servers.get('css-1'), client.servers.servers.get('css-3')];
    const unsigned = prepareAuthTicket({
      iss: recipient(),
      alg: 'RS256',
      urls: shared.shares.map((share, index) =>
        shareTicketUrl(servers[index]?.recipientUrl.ticketBaseUrl ?? '', share.shareId, nonces[index] ?? ''),
      ),
    });
    const { signature } = await signer().sign(Buffer.from(unsigned.signingInput));
    const jwt = signedJwt(unsigned, signature);
    const x5c = person().certPem.replace(/\n/g, '');
    const swapped = await client
      .getShare('css-1', first?.shareId ?? '', presentationFor(jwt, unsigned, 1), x5c)
      .catch((caught: unknown) => caught);
    expect(swapped).to.be.instanceOf(NotAuthorizedError);
    expect((swapped as Error).message).to.match(/another server|another key share/);
    // Its own disclosure still works: the refusal did not spend css-1's nonce.
    const own = await client.getShare('css-1', first?.shareId ?? '', presentationFor(jwt, unsigned, 0), x5c);
    expect(own.recipient).to.equal(recipient());
  });

  it('recovers a 3-of-5 secret with two servers down, and fails with three down without asking for a signature', async () => {
    const { secret, shared } = await storeThreeOfFive();
    await Promise.all([processes[1]?.stop(), processes[3]?.stop()]);
    const once = signer();
    const recovered = await client.fetchSecret({ secret: shared, signer: once });
    expect(Buffer.from(recovered).equals(secret)).to.equal(true);
    expect(once.calls).to.equal(1);

    await processes[4]?.stop();
    const never = signer();
    const error = await client.fetchSecret({ secret: shared, signer: never }).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(ThresholdNotMetError);
    expect(error).to.include({ needed: 3, obtained: 2 });
    expect(never.calls, 'signatures asked for').to.equal(0);
  });
});
