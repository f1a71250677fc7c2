// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { stringify as stringifyYaml } from 'yaml';
import { freePorts } from '../support/client-fixtures.js';
import { ephemeralPoint } from '../support/capsule-fixtures.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const CLI = resolve(__dirname, '../../src/client/cli.ts');
const TSX = require.resolve('tsx/cjs');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A command line split at spaces (the test's paths have none). */
const args = (line: string): string[] => line.split(/\s+/).filter(Boolean);

/** Runs `cdoc2-client ARGS` as a person would, in its own process. */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--require', TSX, CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/**
 * `cdoc2-client` against two real servers over TLS 1.3 (each with its own MariaDB database, run by two
 * organizations): capsule and share round trips, JSON output, progress on stderr, and the documented exit codes.
 */
describe('cdoc2-client command line', function () {
  this.timeout(120_000);
  let servers: TestServer[] = [];
  let dir: string;
  let list: string;

  before(async () => {
    const ports = await freePorts(4);
    servers = await Promise.all(
      [0, 1].map((index) =>
        startTestServer({
          shares: {
            baseUrls: [`https://localhost:${ports[2 * index] ?? 0}`],
            ports: { rest: ports[2 * index] ?? 0, grpc: ports[2 * index + 1] ?? 0 },
          },
        }),
      ),
    );
    const [a, b] = servers as [TestServer, TestServer];
    const { pki } = a;
    dir = mkdtempSync(join(tmpdir(), 'cdoc2-cli-'));
    writeFileSync(join(dir, 'server.pem'), pki.server.certPem);
    writeFileSync(join(dir, 'ca.pem'), pki.ca.certPem);
    writeFileSync(join(dir, 'recipient-cert.pem'), pki.clients.ecP256.certPem);
    writeFileSync(join(dir, 'recipient-key.pem'), pki.clients.ecP256.keyPem);
    writeFileSync(join(dir, 'stranger-cert.pem'), pki.untrustedClient.certPem);
    writeFileSync(join(dir, 'stranger-key.pem'), pki.untrustedClient.keyPem);
    writeFileSync(join(dir, 'auth-cert.pem'), pki.auth.ecP256.certPem);
    writeFileSync(join(dir, 'auth-key.pem'), pki.auth.ecP256.keyPem);
    // Relative file names are the list's own directory's.
    list = join(dir, 'servers.yaml');
    const entry = (
      id: string,
      capsuleType: string,
      organization: string,
      urls: string[],
      certificate = 'server.pem',
    ) => ({
      id,
      capsuleType,
      organization,
      senderUrl: urls[0],
      recipientUrl: urls[1] ?? urls[0],
      certificates: [certificate],
    });
    const shares = (server: TestServer): string[] => [`https://localhost:${server.sharePorts.rest}`];
    writeFileSync(
      list,
      stringifyYaml({
        ca: ['ca.pem'],
        servers: [
          entry('kc', 'KeyServerCapsule', 'org-a', [
            `https://localhost:${a.ports.restSender}`,
            `grpcs://localhost:${a.ports.grpcRecipient}`,
          ]),
          entry('css-1', 'KeySharesCapsule', 'org-a', shares(a)),
          entry('css-2', 'KeySharesCapsule', 'org-b', shares(b)),
          entry('css-1-again', 'KeySharesCapsule', 'org-a', shares(a)),
          entry(
            'kc-wrong-pin',
            'KeyServerCapsule',
            'org-c',
            [`https://localhost:${a.ports.restSender}`, `https://localhost:${a.ports.restRecipient}`],
            'ca.pem',
          ),
          entry('kc-gone', 'KeyServerCapsule', 'org-d', ['https://localhost:1']),
        ],
      }),
    );
  });
  /** `share get` of a description, signed by the test person's authentication key. */
  const shareGet = (description: string, ...extra: string[]): Promise<Run> =>
    cli([
      ...args(`share get --servers ${list} --in ${description}`),
      ...args(`--signer-cert ${dir}/auth-cert.pem --signer-key ${dir}/auth-key.pem`),
      ...extra,
    ]);

  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores a capsule with `capsule put` and fetches it with `capsule get` (REST sender, gRPC recipient)', async () => {
    const material = ephemeralPoint('P-256').toString('base64');
    const put = await cli(
      args(
        `capsule put --servers ${list} --server kc --recipient ${dir}/recipient-cert.pem --ephemeral-key-material ${material}`,
      ),
    );
    expect(put.stderr).to.equal('');
    expect(put.code).to.equal(0);
    const transactionId = put.stdout.trim();
    expect(transactionId).to.match(/^KC[0-9a-f]{32}$/);
    const get = await cli(
      args(
        `capsule get --servers ${list} --server kc --transaction-id ${transactionId} --cert ${dir}/recipient-cert.pem --key ${dir}/recipient-key.pem --json`,
      ),
    );
    expect(get.code, get.stderr).to.equal(0);
    const capsule = JSON.parse(get.stdout);
    expect(capsule).to.include({
      server: 'kc',
      transactionId,
      ephemeral_key_material: material,
      capsule_type: 'ecc_secp256r1',
    });
  });

  it('splits a secret over two organizations with `share put` and recombines it with `share get`', async () => {
    const out = join(dir, 'shares.json');
    const secret = 'a5'.repeat(32);
    const put = await cli(
      args(
        `share put --servers ${list} --server css-1 --server css-2 --recipient etsi/PNOEE-30303039914 --secret ${secret} --out ${out}`,
      ),
    );
    expect(put.code, put.stderr).to.equal(0);
    expect(put.stderr)
      .to.match(/css-1: share stored/)
      .and.to.match(/css-2: share stored/);
    const description = JSON.parse(readFileSync(out, 'utf8'));
    expect(description).to.include({ recipient: 'etsi/PNOEE-30303039914', scheme: 'n-of-n', threshold: 2 });
    const get = await shareGet(out, '--json');
    expect(get.code, get.stderr).to.equal(0);
    expect(JSON.parse(get.stdout)).to.deep.equal({ secret });
    expect(get.stderr).to.match(/ticket signed once for css-1, css-2/);
    // The nonces are spent: the same description needs (and gets) fresh ones, so a second fetch works too.
    const again = await shareGet(out);
    expect(again.stdout.trim()).to.equal(secret);
  });

  it('generates and prints a random 32-byte secret when none is given (2-of-2 Shamir)', async () => {
    const out = join(dir, 'generated.json');
    const put = await cli(
      args(
        `share put --servers ${list} --server css-1 --server css-2 --threshold 2 --recipient etsi/PNOEE-30303039914 --out ${out} --json`,
      ),
    );
    expect(put.code, put.stderr).to.equal(0);
    const result = JSON.parse(put.stdout);
    expect(result.secret).to.match(/^[0-9a-f]{64}$/);
    const get = await shareGet(out);
    expect(get.stdout.trim()).to.equal(result.secret);
  });

  it('exits with the documented codes: 2 usage, 3 not found, 5 not trusted, 6 same organization', async () => {
    const usage = await cli(['share', 'put', '--servers', list, '--recipient', 'etsi/PNOEE-30303039914']);
    expect(usage.code).to.equal(2);
    expect(usage.stderr.trim().split('\n')).to.have.length(1);
    const unknown = await cli(['capsule', 'fetch']);
    expect(unknown.code).to.equal(2);
    const notFound = await cli(
      args(
        `capsule get --servers ${list} --server kc --transaction-id KC${'0'.repeat(32)} --cert ${dir}/recipient-cert.pem --key ${dir}/recipient-key.pem --json`,
      ),
    );
    expect(notFound.code).to.equal(3);
    expect(JSON.parse(notFound.stdout)).to.include({ error: 'not_found', server: 'kc' });
    const untrusted = await cli(
      args(
        `capsule put --servers ${list} --server kc-wrong-pin --recipient ${dir}/recipient-cert.pem --ephemeral-key-material ${ephemeralPoint('P-256').toString('base64')}`,
      ),
    );
    expect(untrusted.code).to.equal(5);
    expect(untrusted.stderr).to.match(/does not pin/);
    const duplicate = await cli(
      args(
        `share put --servers ${list} --server css-1 --server css-1-again --recipient etsi/PNOEE-30303039914 --out ${dir}/never.json`,
      ),
    );
    expect(duplicate.code).to.equal(6);
    expect(duplicate.stderr).to.match(/both run by organization "org-a"/);
  });

  it('exits with the documented codes: 4 not authorized, 7 threshold not met, 8 unavailable', async () => {
    const capsule = `--transaction-id KC${'0'.repeat(32)}`;
    const stranger = await cli(
      args(
        `capsule get --servers ${list} --server kc ${capsule} --cert ${dir}/stranger-cert.pem --key ${dir}/stranger-key.pem`,
      ),
    );
    expect(stranger.code, stranger.stderr).to.equal(4);
    const description = join(dir, 'missing-share.json');
    writeFileSync(
      description,
      JSON.stringify({
        recipient: 'etsi/PNOEE-30303039914',
        scheme: 'n-of-n',
        threshold: 2,
        shares: [
          { server: 'css-1', shareId: 'f'.repeat(32) },
          { server: 'css-2', shareId: 'e'.repeat(32) },
        ],
      }),
    );
    const missing = await shareGet(description);
    expect(missing.code, missing.stderr).to.equal(7);
    expect(missing.stderr).to.match(/css-1: .*not found/);
    const gone = await cli(
      args(
        `capsule get --servers ${list} --server kc-gone ${capsule} --cert ${dir}/recipient-cert.pem --key ${dir}/recipient-key.pem`,
      ),
    );
    expect(gone.code, gone.stderr).to.equal(8);
  });

  it('prints per-command help and the version', async () => {
    const help = await cli(['share', 'get', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^usage: cdoc2-client share get/);
    const version = await cli(['--version']);
    expect(version.stdout).to.match(/^cdoc2-client \d+\.\d+\.\d+/);
  });
});
