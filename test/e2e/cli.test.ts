import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createDatabase } from '../../src/storage/database.js';
import { freePorts } from '../support/client-fixtures.js';
import { createTestDatabase, MYSQL_URL } from '../support/mysql.js';
import { CLI_BIN, ensureBuilt, PACKAGE_ROOT } from '../support/server-process.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

const run = promisify(execFile);
const CLI = resolve(__dirname, '../../src/main/cli.ts');
const TSX = require.resolve('tsx/cjs');

/** Every listener on a free port, so that the test never collides with a server already running here. */
const FREE_PORTS = {
  CDOC2_MANAGEMENT_PORT: '0',
  CDOC2_SHARES_PORTS_REST: '0',
  CDOC2_SHARES_PORTS_GRPC: '0',
  CDOC2_CAPSULES_PORTS_REST_SENDER: '0',
  CDOC2_CAPSULES_PORTS_REST_RECIPIENT: '0',
  CDOC2_CAPSULES_PORTS_GRPC_SENDER: '0',
  CDOC2_CAPSULES_PORTS_GRPC_RECIPIENT: '0',
};

const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CDOC2_')));

/** Runs the real bin (`dist/src/main/cli.js`, what package.json's `bin` names) and collects what it printed. */
async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  await ensureBuilt();
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_BIN, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...cleanEnv(), ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Waits until the process has printed `marker` on stdout; returns everything printed so far. */
function waitFor(child: ChildProcess, marker: RegExp): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (marker.test(out)) {
        resolvePromise(out);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`exited with ${code} before printing ${marker}: ${err}`)));
  });
}

/** The shell command that follows `heading` in the summary, with its backslash continuations joined. */
function commandAfter(summary: string, heading: RegExp): string {
  const lines = summary.split('\n');
  const start = lines.findIndex((line) => heading.test(line)) + 1;
  const command: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    command.push(line.replace(/\\$/, ''));
    if (!line.endsWith('\\')) {
      break;
    }
  }
  return command.join(' ');
}

/** A usage or configuration error: exit code 2 and exactly one line on stderr, matching `pattern`. */
function expectOneLine(result: { code: number; stderr: string }, pattern: RegExp): void {
  expect(result.code, result.stderr).to.equal(2);
  expect(result.stderr.trim().split('\n')).to.have.length(1);
  expect(result.stderr).to.match(pattern);
}

/** A complete `serve` configuration on the test PKI, with `lines` (YAML) added. */
function serveConfig(pki: TestPki, dir: string, name: string, lines: readonly string[]): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `tls: { cert: '${pki.serverFiles.cert}', key: '${pki.serverFiles.key}' }`,
      `capsules: { clientCa: ['${pki.caFile}'], ports: { restSender: 0, restRecipient: 0, grpcSender: 0, grpcRecipient: 0 } }`,
      `shares: { baseUrls: ['https://css.test'], trustedIssuers: ['${pki.authCaFile}'], ports: { rest: 0, grpc: 0 } }`,
      'revocation: { mode: off }',
      ...lines,
      '',
    ].join('\n'),
  );
  return file;
}

describe('cdoc2-keyserver command line', () => {
  before(async function () {
    // The bin is the built one: tsc takes a while on a loaded 2-core machine.
    this.timeout(180_000);
    await ensureBuilt();
  });

  describe('conventions (the built bin)', () => {
    const version = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;

    it('prints the version of package.json for --version and -v', async () => {
      for (const flag of ['--version', '-v']) {
        const result = await cli([flag]);
        expect(result.code).to.equal(0);
        expect(result.stdout).to.equal(`cdoc2-keyserver ${version}\n`);
      }
    });

    it('prints the usage on stderr and exits 2 when given no arguments', async () => {
      const result = await cli([]);
      expect(result.code).to.equal(2);
      expect(result.stdout).to.equal('');
      expect(result.stderr)
        .to.match(/usage: cdoc2-keyserver COMMAND/)
        .and.match(/serve/)
        .and.match(/migrate/);
    });

    it("prints each command's own options and environment variables for COMMAND --help and help COMMAND", async () => {
      const serve = await cli(['serve', '--help']);
      expect(serve.code).to.equal(0);
      expect(serve.stdout).to.match(/^usage: cdoc2-keyserver serve/);
      expect(serve.stdout)
        .to.contain('-c, --config FILE')
        .and.contain('CDOC2_DATABASE_URL')
        .and.contain('CDOC2_CAPSULES_PORTS_REST_SENDER')
        .and.contain('CDOC2_LOG_LEVEL');
      expect((await cli(['help', 'serve'])).stdout).to.equal(serve.stdout);

      const migrate = await cli(['migrate', '-h']);
      expect(migrate.stdout).to.match(/^usage: cdoc2-keyserver migrate/);
      expect(migrate.stdout).to.contain('CDOC2_DATABASE_URL').and.not.contain('CDOC2_TLS_CERT');
      expect(migrate.stdout).to.not.equal(serve.stdout);

      const devPki = await cli(['help', 'dev-pki']);
      expect(devPki.stdout).to.match(/^usage: cdoc2-keyserver dev-pki DIR/);
    });

    it('refuses a stray argument, an unknown option and a missing argument with one line and exit code 2', async () => {
      expectOneLine(await cli(['serve', 'extra']), /^cdoc2-keyserver serve: unexpected argument "extra"/);
      expectOneLine(await cli(['serve', '--port', '1']), /^cdoc2-keyserver serve: unknown option "--port"/);
      expectOneLine(await cli(['migrate', '--config']), /option --config needs a value/);
      expectOneLine(await cli(['dev-pki']), /^cdoc2-keyserver dev-pki: missing argument DIR/);
      expectOneLine(await cli(['help', 'frobnicate']), /unknown command "frobnicate"/);
    });
  });

  describe('one-line errors before anything starts', () => {
    let dir: string;
    let pki: TestPki;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cdoc2-errors-'));
      pki = await getTestPki();
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const unreachable: Array<[string, string, string]> = [
      ['ECONNREFUSED', 'mysql://cdoc2:secret@127.0.0.1:1/cdoc2', 'mysql://cdoc2:***@127.0.0.1:1/cdoc2'],
      ['ENOTFOUND', 'mysql://cdoc2:secret@db.invalid:3306/cdoc2', 'mysql://cdoc2:***@db.invalid:3306/cdoc2'],
    ];
    for (const [code, url, shown] of unreachable) {
      it(`an unreachable database (${code}) is only the line naming it, without the password`, async () => {
        const file = serveConfig(pki, dir, `${code}.yaml`, [`database: { url: '${url}' }`]);
        const result = await cli(['serve', '--config', file]);
        expectOneLine(
          result,
          new RegExp(`^cdoc2-keyserver: database\\.url: cannot use ${shown.replace(/[.*]/g, '\\$&')} \\(${code}\\)`),
        );
        expect(result.stdout, 'a log line before the error').to.equal('');
        expect(result.stderr).to.not.contain('secret');
      });
    }

    it('a database that does not exist on the server (ER_BAD_DB_ERROR) is only the line naming it', async () => {
      const url = new URL(MYSQL_URL);
      url.pathname = '/cdoc2_no_such_database';
      const file = serveConfig(pki, dir, 'bad-db.yaml', [`database: { url: '${url.toString()}' }`]);
      const result = await cli(['serve', '--config', file]);
      expectOneLine(result, /database\.url: cannot use mysql:.*cdoc2_no_such_database \(ER_BAD_DB_ERROR\)/);
      expect(result.stdout).to.equal('');
    });

    it('two listeners configured on one port name both keys', async () => {
      const [port] = (await freePorts(1)) as [number];
      const file = serveConfig(pki, dir, 'same-port.yaml', [
        "database: { url: 'sqlite:./same-port.sqlite' }",
        `management: { port: ${port} }`,
        `host: 127.0.0.1`,
      ]);
      writeFileSync(file, readFileSync(file, 'utf8').replace('grpcRecipient: 0', `grpcRecipient: ${port}`));
      const result = await cli(['serve', '--config', file]);
      expectOneLine(
        result,
        new RegExp(`^cdoc2-keyserver: capsules\\.ports\\.grpcRecipient and management\\.port: both are port ${port}`),
      );
      expect(result.stdout).to.not.contain('started');
    });

    it('a port already in use names its key, before the database is even opened', async () => {
      const holder: Server = createServer();
      await new Promise<void>((resolvePromise) => holder.listen(0, '127.0.0.1', resolvePromise));
      const { port } = holder.address() as { port: number };
      try {
        const file = serveConfig(pki, dir, 'in-use.yaml', [
          // Unreachable: had the start got as far as the database, the line would be about the database.
          "database: { url: 'mysql://cdoc2@127.0.0.1:1/cdoc2' }",
          'management: { port: 0 }',
        ]);
        writeFileSync(file, readFileSync(file, 'utf8').replace('restSender: 0', `restSender: ${port}`));
        const result = await cli(['serve', '--config', file]);
        expectOneLine(
          result,
          new RegExp(
            `^cdoc2-keyserver: capsules\\.ports\\.restSender: port ${port} on 127\\.0\\.0\\.1 is already in use`,
          ),
        );
      } finally {
        await new Promise((resolvePromise) => holder.close(resolvePromise));
      }
    });

    it('a sqlite: path whose folder does not exist is an error, and the folder is not created', async () => {
      const file = serveConfig(pki, dir, 'no-folder.yaml', [
        "database: { url: 'sqlite:./no-such-folder/cdoc2.sqlite' }",
        'management: { port: 0 }',
      ]);
      const result = await cli(['serve', '--config', file]);
      expectOneLine(
        result,
        /database\.url: cannot use sqlite:.*no-such-folder.*\(the folder .*no-such-folder does not exist\)/,
      );
      expect(existsSync(join(dir, 'no-such-folder'))).to.equal(false);
      expectOneLine(await cli(['migrate', '--config', file]), /the folder .*no-such-folder does not exist/);
    });
  });

  describe('npm start (serve without configuration)', () => {
    let dir: string;
    let child: ChildProcess | undefined;
    let summary = '';

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'cdoc2-zero-config-'));
    });
    after(() => {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('starts on SQLite with a development PKI and serves a capsule to its printed curl commands', async () => {
      // The development shares base URL names the configured port, so that one must be known in advance.
      const [sharesPort] = await freePorts(1);
      child = spawn(process.execPath, ['--require', TSX, CLI, 'serve'], {
        cwd: dir,
        env: { ...cleanEnv(), ...FREE_PORTS, CDOC2_SHARES_PORTS_REST: String(sharesPort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      summary = await waitFor(child, /--signer-key \S+\n/);
      expect(existsSync(join(dir, 'var', 'cdoc2.sqlite'))).to.equal(true);
      expect(statSync(join(dir, 'var', 'dev-pki', 'server-key.pem')).mode & 0o077).to.equal(0);

      const store = await run('bash', ['-c', commandAfter(summary, /Store a capsule/)], { cwd: dir });
      expect(store.stdout).to.match(/^HTTP\/1\.1 201/);
      const id = /location: \/key-capsules\/(KC[0-9a-f]{32})/i.exec(store.stdout)?.[1];
      expect(id).to.be.a('string');

      const fetchCommand = commandAfter(summary, /Fetch it/).replace('KC...', id ?? '');
      const fetched = await run('bash', ['-c', fetchCommand], { cwd: dir });
      const posted = /-d '([^']+)'/.exec(summary)?.[1];
      expect(fetched.stdout).to.equal(posted);
    });

    it('serves a share to the printed cdoc2-client round trip, through the written server list that pins it', async () => {
      // The summary prints `npx tsx …` when run from the sources; the same file under this test's tsx.
      const asHere = (command: string): string => command.replace(/^npx tsx /, `${process.execPath} --require ${TSX} `);
      const put = await run('bash', ['-c', asHere(commandAfter(summary, /Store a secret with the client/))], {
        cwd: dir,
      });
      const secret = /^secret ([0-9a-f]{64})$/m.exec(put.stdout)?.[1];
      expect(secret, put.stdout).to.be.a('string');
      expect(put.stderr).to.match(/dev-shares: share stored/);
      const get = await run('bash', ['-c', asHere(commandAfter(summary, /Get it back/))], { cwd: dir });
      expect(get.stdout.trim()).to.equal(secret);
      const list = readFileSync(join(dir, 'var', 'dev-pki', 'servers.yaml'), 'utf8');
      expect(list).to.match(/certificates: \[server-cert\.pem\]/);
    });

    it('stops with exit code 0 on SIGTERM', async () => {
      const exited = new Promise<number | null>((resolvePromise) => child?.on('exit', resolvePromise));
      child?.kill('SIGTERM');
      expect(await exited).to.equal(0);
      child = undefined;
    });
  });

  describe('invalid configuration', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'cdoc2-bad-config-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('names the key of a port out of range and exits 2', async () => {
      const file = join(dir, 'port.yaml');
      writeFileSync(file, 'capsules:\n  ports:\n    restSender: 70000\n');
      expectOneLine(await cli(['serve', '--config', file]), /^cdoc2-keyserver: capsules\.ports\.restSender: /);
    });

    it('names a misspelt key instead of ignoring it', async () => {
      const file = join(dir, 'typo.yaml');
      writeFileSync(file, 'capsules:\n  expiry:\n    defualt: P1D\n');
      expectOneLine(await cli(['serve', '--config', file]), /capsules\.expiry.*defualt/);
    });

    it('names an environment variable with an invalid duration', async () => {
      expectOneLine(
        await cli(['serve'], { cwd: dir, env: { CDOC2_CAPSULES_EXPIRY_DEFAULT: 'P1Y' } }),
        /capsules\.expiry\.default: .*years or months/,
      );
    });

    it('requires tls when a configuration file is given', async () => {
      const file = join(dir, 'no-tls.json');
      writeFileSync(file, JSON.stringify({ database: { url: 'sqlite:./x.sqlite' } }));
      expectOneLine(await cli(['serve', '--config', file]), /^cdoc2-keyserver: tls: required/);
    });

    it('says which database it cannot reach, without the password', async () => {
      const pki = await getTestPki();
      const file = join(dir, 'db.yaml');
      writeFileSync(
        file,
        [
          'database:',
          '  url: mysql://root:secret@127.0.0.1:1/cdoc2',
          'tls:',
          `  cert: ${pki.serverFiles.cert}`,
          `  key: ${pki.serverFiles.key}`,
          'capsules:',
          `  clientCa: [${pki.caFile}]`,
          // Any free ports: the check that the ports are free comes before the database, and a fixed default
          // port held by another process would be the error reported instead.
          '  ports: { restSender: 0, restRecipient: 0, grpcSender: 0, grpcRecipient: 0 }',
          'management:',
          '  port: 0',
          'shares:',
          '  enabled: false',
        ].join('\n'),
      );
      const result = await cli(['serve', '--config', file]);
      expectOneLine(result, /database\.url: cannot use mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/cdoc2 \(ECONNREFUSED\)/);
      expect(result.stderr).to.not.contain('secret');
    });

    it('refuses an unknown command with exit code 2', async () => {
      const result = await cli(['frobnicate']);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/unknown command "frobnicate"/);
    });
  });

  describe('migrate', () => {
    it('needs only the database section, applies the migrations, then says there is nothing to apply', async () => {
      const database = await createTestDatabase();
      const dir = mkdtempSync(join(tmpdir(), 'cdoc2-migrate-'));
      const db = createDatabase({ url: database.url });
      try {
        const file = join(dir, 'migrate.yaml');
        writeFileSync(file, `database:\n  url: ${database.url}\n`);
        const first = await cli(['migrate', '--config', file]);
        expect(first.code, first.stderr).to.equal(0);
        expect(first.stdout).to.match(/^applied \d+ migrations? to mysql:\/\/.*: \d+-create-key-capsules/);
        expect(await db.schema.hasTable('key_capsules')).to.equal(true);
        const second = await cli(['migrate', '--config', file]);
        expect(second.code, second.stderr).to.equal(0);
        expect(second.stdout).to.match(/^nothing to apply: mysql:\/\/.* is at the latest schema\n$/);
      } finally {
        await db.destroy();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
