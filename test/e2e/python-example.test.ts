import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { findPython } from '../support/python.js';
import { PACKAGE_ROOT } from '../support/server-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

describe('the Python gRPC example (README "Calling the gRPC API from Python")', function () {
  this.timeout(120_000);
  let python: string | undefined;
  let server: TestServer | undefined;
  let dir: string;

  before(async function () {
    python = await findPython(['grpc', 'grpc_tools', 'cryptography']);
    if (!python) {
      // Not a silent pass: the reporter lists it as skipped, and `.ci/run` installs the packages.
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'cdoc2-python-'));
    server = await startTestServer();
  });
  after(async () => {
    await server?.close();
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generates the client from proto/ with grpc_tools, stores a capsule and fetches it back with mutual TLS', async () => {
    const out = join(dir, 'gen-python');
    mkdirSync(out);
    // The README's commands, as written there.
    await run(
      python as string,
      [
        '-m',
        'grpc_tools.protoc',
        '-I',
        'proto',
        `--python_out=${out}`,
        `--grpc_python_out=${out}`,
        'proto/cdoc2/capsules/v1/capsules.proto',
      ],
      { cwd: PACKAGE_ROOT },
    );
    const { pki, ports } = server as TestServer;
    const client = pki.clients.ecP256;
    writeFileSync(join(dir, 'client-cert.pem'), client.certPem);
    writeFileSync(join(dir, 'client-key.pem'), client.keyPem, { mode: 0o600 });
    const { stdout } = await run(
      python as string,
      [
        'examples/python/capsule_round_trip.py',
        '--ca',
        pki.caFile,
        '--cert',
        join(dir, 'client-cert.pem'),
        '--key',
        join(dir, 'client-key.pem'),
        '--sender',
        `localhost:${ports.grpcSender}`,
        '--recipient',
        `localhost:${ports.grpcRecipient}`,
      ],
      { cwd: PACKAGE_ROOT, env: { ...process.env, PYTHONPATH: out } },
    );
    const stored = /^stored (KC[0-9a-f]{32}) until \d{4}-\d\d-\d\dT/m.exec(stdout);
    expect(stored, stdout).to.not.equal(null);
    expect(stdout).to.contain(`fetched ${stored?.[1]} as its recipient: the same capsule`);
  });
});
