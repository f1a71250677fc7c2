import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createConnection } from 'mysql2/promise';
import { MYSQL_URL } from '../support/mysql.js';
import { restCapsuleRoundTrip, restShareAndNonce } from '../support/rest-round-trip.js';
import { childEnv, CLI_BIN, ensureBuilt, PACKAGE_ROOT, startServerProcess } from '../support/server-process.js';
import { getTestPki, type TestPki } from '../support/test-pki.js';

const run = promisify(execFile);
const deployFile = (name: string): string => join(PACKAGE_ROOT, 'deploy', name);

/** The URL of `database` on the test server as `user`. */
function urlAs(user: string, password: string, database: string): string {
  const url = new URL(MYSQL_URL);
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

/** The privileges a user holds on `database`, from its grants (e.g. ['DELETE', 'INSERT', 'SELECT', 'UPDATE']). */
async function privileges(admin: Awaited<ReturnType<typeof createConnection>>, user: string): Promise<string[]> {
  const [rows] = await admin.query(`SHOW GRANTS FOR '${user}'@'%'`);
  const onDatabase = (rows as Array<Record<string, string>>)
    .map((row) => Object.values(row)[0] ?? '')
    .find((grant) => / ON `[^`]+`\.\* TO /.test(grant));
  return (/^GRANT (.+) ON /.exec(onDatabase ?? '')?.[1] ?? '')
    .split(', ')
    .map((privilege) => privilege.trim())
    .sort();
}

describe('deployment files', function () {
  this.timeout(120_000);

  it('LICENSE is the license package.json names (MIT)', () => {
    const { license } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(license).to.equal('MIT');
    const text = readFileSync(join(PACKAGE_ROOT, 'LICENSE'), 'utf8');
    expect(text).to.match(/^MIT License\n/);
    expect(text).to.contain('Permission is hereby granted, free of charge');
  });

  describe('deploy/database.sql: the database, a migrate user and a least-privilege serve user', () => {
    const suffix = randomBytes(4).toString('hex');
    const database = `cdoc2_deploy_${suffix}`;
    const migrateUser = `cdoc2_migrate_${suffix}`;
    const serveUser = `cdoc2_serve_${suffix}`;
    const migratePassword = randomBytes(12).toString('hex');
    const servePassword = randomBytes(12).toString('hex');
    let admin: Awaited<ReturnType<typeof createConnection>>;
    let pki: TestPki;

    before(async () => {
      pki = await getTestPki();
      // The file as an operator runs it, with names of this run only (the MariaDB server is shared).
      const sql = readFileSync(deployFile('database.sql'), 'utf8')
        .replaceAll('`cdoc2`', `\`${database}\``)
        .replaceAll("'cdoc2_migrate'", `'${migrateUser}'`)
        .replaceAll("'cdoc2_serve'", `'${serveUser}'`)
        .replaceAll("'change-me-migrate'", `'${migratePassword}'`)
        .replaceAll("'change-me-serve'", `'${servePassword}'`);
      admin = await createConnection({ uri: MYSQL_URL, multipleStatements: true });
      await admin.query(sql);
    });
    after(async () => {
      await admin.query(`DROP USER IF EXISTS '${migrateUser}'@'%', '${serveUser}'@'%'`);
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await admin.end();
    });

    it('grants the serve user SELECT, INSERT, UPDATE and DELETE only', async () => {
      expect(await privileges(admin, serveUser)).to.deep.equal(['DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    });

    it('lets `cdoc2-keyserver migrate` create the schema as the migrate user, from a file with only the database', async () => {
      await ensureBuilt();
      const dir = mkdtempSync(join(tmpdir(), 'cdoc2-deploy-'));
      try {
        const file = join(dir, 'migrate.yaml');
        writeFileSync(file, `database:\n  url: ${urlAs(migrateUser, migratePassword, database)}\n`);
        const { stdout } = await run(process.execPath, [CLI_BIN, 'migrate', '--config', file], { env: childEnv() });
        expect(stdout).to.match(/^applied \d+ migrations? to mysql:/);
        expect(stdout).to.not.contain(migratePassword);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses the serve user any change to the schema', async () => {
      const serve = await createConnection({ uri: urlAs(serveUser, servePassword, database) });
      try {
        for (const statement of [
          'CREATE TABLE intruder (id INT)',
          'DROP TABLE key_capsules',
          'ALTER TABLE key_capsules ADD COLUMN intruder INT',
          'TRUNCATE TABLE key_shares',
        ]) {
          const error = await serve.query(statement).then(
            () => undefined,
            (failure: { code?: string }) => failure.code,
          );
          expect(error, statement).to.match(/^ER_(TABLE|DBACCESS)?ACCESS_DENIED_ERROR$|^ER_TABLEACCESS_DENIED_ERROR$/);
        }
      } finally {
        await serve.end();
      }
    });

    it('serves as the serve user (database.migrate: false): a capsule stored and fetched, a share and its nonce', async () => {
      const server = await startServerProcess(pki, urlAs(serveUser, servePassword, database), [], {
        env: { CDOC2_DATABASE_MIGRATE: 'false' },
      });
      try {
        const capsule = await restCapsuleRoundTrip(pki, server.capsulePorts, pki.clients.ecP256);
        expect(capsule.created.status).to.equal(201);
        expect(capsule.fetched.body).to.equal(capsule.stored);
        const share = await restShareAndNonce(pki, server.sharePorts.rest);
        expect(share.created.status).to.equal(201);
        expect(share.nonce.status).to.equal(200);
        expect(JSON.parse(share.nonce.body)).to.have.property('nonce').that.is.a('string');
      } finally {
        expect(await server.stop()).to.equal(0);
      }
    });
  });

  it('deploy/cdoc2-keyserver.service is a valid, sandboxed systemd unit (systemd-analyze verify where installed)', async function () {
    const unit = readFileSync(deployFile('cdoc2-keyserver.service'), 'utf8');
    for (const option of [
      'User=cdoc2-keyserver',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'CapabilityBoundingSet=\n',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
      'KillSignal=SIGTERM',
      'RestartPreventExitStatus=2',
    ]) {
      expect(unit, option).to.contain(option);
    }
    expect(unit).to.match(/^ExecStart=\/usr\/bin\/node .*\/dist\/src\/main\/cli\.js serve --config /m);

    const analyze = await run('systemd-analyze', ['--version']).then(
      () => true,
      () => false,
    );
    if (!analyze) {
      this.skip();
    }
    // The unit as installed from this checkout: this Node and this package instead of /usr/bin and /opt.
    const dir = mkdtempSync(join(tmpdir(), 'cdoc2-unit-'));
    try {
      const file = join(dir, 'cdoc2-keyserver.service');
      writeFileSync(
        file,
        unit.replace('/usr/bin/node', process.execPath).replace('/opt/cdoc2-keyserver', PACKAGE_ROOT),
      );
      await ensureBuilt();
      const { stderr } = await run('systemd-analyze', ['verify', file]);
      // systemd-analyze exits 0 on unknown keys and bad values, and prints a warning: none is allowed.
      expect(stderr).to.equal('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
