// test-pki.ts loads @peculiar/x509, which needs the reflect polyfill before it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { stringify as stringifyYaml } from 'yaml';
import { capsuleFor } from '../support/capsule-fixtures.js';
import { freePorts } from '../support/client-fixtures.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cjs');

/** The README's "From TypeScript" block, as written. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### From TypeScript'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) {
    throw new Error('README has no TypeScript block under "From TypeScript"');
  }
  return block;
}

/**
 * The README's client example, run as its own program (the package import pointed at the sources), against three
 * shares servers of three organizations, the first also a key capsule server: what a backend developer copies
 * must work.
 */
describe('README client example', function () {
  this.timeout(120_000);
  let servers: TestServer[] = [];
  let dir: string;

  before(async () => {
    const ports = await freePorts(3);
    servers = await Promise.all(
      ports.map((port) =>
        startTestServer({ shares: { baseUrls: [`https://localhost:${port}`], ports: { rest: port, grpc: 0 } } }),
      ),
    );
    dir = mkdtempSync(join(tmpdir(), 'cdoc2-readme-'));
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores and fetches a capsule, splits a KEK across three organizations and recombines it', async () => {
    const [first, second, third] = servers as [TestServer, TestServer, TestServer];
    const { pki } = first;
    const me = pki.clients.ecP256;
    const person = pki.auth.rsa2048;
    const files: Record<string, string> = {
      'ca.pem': pki.ca.certPem,
      'server.pem': pki.server.certPem,
      'me.pem': me.certPem,
      'me-key.pem': me.keyPem,
      'auth-cert.pem': person.certPem,
      'auth-key.pem': person.keyPem,
    };
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(dir, name), text);
    }
    const shares = (id: string, organization: string, server: TestServer) => ({
      id,
      capsuleType: 'KeySharesCapsule',
      organization,
      senderUrl: `https://localhost:${server.sharePorts.rest}`,
      recipientUrl: `https://localhost:${server.sharePorts.rest}`,
      certificates: ['server.pem'],
    });
    writeFileSync(
      join(dir, 'servers.yaml'),
      stringifyYaml({
        ca: ['ca.pem'],
        servers: [
          {
            id: 'kc-ria',
            capsuleType: 'KeyServerCapsule',
            organization: 'ria',
            senderUrl: `grpcs://localhost:${first.ports.grpcSender}`,
            recipientUrl: `grpcs://localhost:${first.ports.grpcRecipient}`,
            certificates: ['server.pem'],
          },
          shares('css-ria', 'ria', first),
          shares('css-sk', 'sk', second),
          shares('css-cyber', 'cyber', third),
        ],
      }),
    );
    const capsule = capsuleFor(me);
    const kek = randomBytes(32);
    const example = readmeExample();
    const imports = example.split('\n').filter((line) => line.startsWith('import '));
    const body = example.split('\n').filter((line) => !line.startsWith('import '));
    const program = [
      ...imports.map((line) => line.replace(`'cdoc2-keyserver'`, `'${join(ROOT, 'src', 'client', 'index.js')}'`)),
      'void (async () => {',
      `const recipientId = Buffer.from('${capsule.recipientId.toString('base64')}', 'base64');`,
      `const ephemeralKeyMaterial = Buffer.from('${capsule.ephemeralKeyMaterial.toString('base64')}', 'base64');`,
      `const kek = Buffer.from('${kek.toString('base64')}', 'base64');`,
      ...body,
      'process.stdout.write(JSON.stringify({',
      '  transactionId,',
      '  capsule: Buffer.from(capsule.ephemeralKeyMaterial).toString("base64"),',
      '  servers: shared.shares.map((share) => share.server),',
      '  recovered: Buffer.from(recovered).toString("base64"),',
      '}));',
      '})().catch((error: unknown) => { console.error(error); process.exitCode = 1; });',
    ].join('\n');
    writeFileSync(join(dir, 'example.ts'), program);
    const { stdout, stderr } = await run(process.execPath, ['--require', TSX, join(dir, 'example.ts')], { cwd: dir });
    const result = JSON.parse(stdout);
    expect(result.transactionId).to.match(/^KC[0-9a-f]{32}$/);
    expect(result.capsule).to.equal(capsule.ephemeralKeyMaterial.toString('base64'));
    expect(result.servers).to.deep.equal(['css-ria', 'css-sk', 'css-cyber']);
    expect(result.recovered).to.equal(kek.toString('base64'));
    expect(stderr, 'the onProgress lines').to.match(/step: 'signed'/);
  });
});
