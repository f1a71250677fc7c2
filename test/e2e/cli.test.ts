import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createDatabase } from '../../src/storage/database.js';
import { freePorts } from '../support/client-fixtures.js';
import { createTestDatabase } from '../support/mysql.js';
import { getTestPki } from '../support/test-pki.js';

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

async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--require', TSX, CLI, ...args], {
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

describe('cdoc2-keyserver command line', () => {
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

    const expectOneLine = (result: { code: number; stderr: string }, pattern: RegExp): void => {
      expect(result.code).to.equal(2);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(pattern);
    };

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
    it('applies the migrations to the configured MariaDB database', async () => {
      const database = await createTestDatabase();
      const dir = mkdtempSync(join(tmpdir(), 'cdoc2-migrate-'));
      const db = createDatabase({ url: database.url });
      try {
        const file = join(dir, 'migrate.yaml');
        const pki = await getTestPki();
        writeFileSync(
          file,
          `database:\n  url: ${database.url}\ntls:\n  cert: ${pki.serverFiles.cert}\n  key: ${pki.serverFiles.key}\ncapsules:\n  clientCa: [${pki.caFile}]\nshares:\n  baseUrls: [https://css.test]\n  trustedIssuers: [${pki.authCaFile}]\n`,
        );
        const result = await cli(['migrate', '--config', file]);
        expect(result.code, result.stderr).to.equal(0);
        expect(await db.schema.hasTable('key_capsules')).to.equal(true);
      } finally {
        await db.destroy();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
