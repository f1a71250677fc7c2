import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { ConfigError, envName, loadConfig, type LoadedConfig } from '../../src/config/load-config.js';

const DAY = 86_400_000;

/**
 * The smallest valid file: the keys that a configuration file must have (tls, capsules.clientCa,
 * shares.baseUrls, shares.trustedIssuers).
 */
const MINIMAL_YAML = [
  'tls:',
  '  cert: server.pem',
  '  key: server-key.pem',
  'shares:',
  '  baseUrls: [https://css.example.org]',
  '  trustedIssuers: [auth-ca.pem]',
  // capsules last: some tests append indented capsules keys to this text.
  'capsules:',
  '  clientCa: [ca.pem]',
  '',
].join('\n');

describe('loadConfig', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cdoc2-unit-config-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  let fileCounter = 0;
  /** Writes `text` to a fresh file with this extension in the temporary directory and returns its path. */
  const writeFile = (extension: string, text: string): string => {
    const file = join(dir, `config-${++fileCounter}.${extension}`);
    writeFileSync(file, text);
    return file;
  };

  /** The ConfigError loadConfig throws; fails the test for no error or another error. */
  const configError = (file: string | undefined, env: NodeJS.ProcessEnv = {}): string => {
    let loaded: LoadedConfig;
    try {
      loaded = loadConfig(file, env);
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message, 'one line').not.to.include('\n');
      return message;
    }
    throw new Error(`loaded without error: ${JSON.stringify(loaded.config)}`);
  };

  describe('without a file', () => {
    it('applies every default, with the SQLite path made absolute against the working directory', () => {
      const { config, file } = loadConfig(undefined, {});
      expect(file).to.equal(undefined);
      expect(config).to.deep.equal({
        database: {
          url: `sqlite:${resolve(process.cwd(), 'var/cdoc2.sqlite')}`,
          migrate: true,
          migrationLockTimeout: 120_000,
          pool: { max: 10 },
          queryTimeout: 5000,
          readinessTimeout: 1000,
        },
        host: '127.0.0.1',
        capsules: {
          enabled: true,
          clientCa: [],
          ports: { restSender: 8443, restRecipient: 8444, grpcSender: 50051, grpcRecipient: 50052 },
          expiry: { default: 1095 * DAY, max: 1825 * DAY },
        },
        shares: {
          enabled: true,
          ports: { rest: 8445, grpc: 50053 },
          baseUrls: [],
          trustedIssuers: [],
          nonceTtl: 300_000,
          maxNoncesPerShare: 16,
          expiry: { default: 1095 * DAY, max: 1825 * DAY },
        },
        revocation: { mode: 'hard-fail', timeout: 3000, maxResponseAge: 3_600_000, cacheSize: 10_000, stapling: true },
        management: { enabled: true, host: '127.0.0.1', port: 9090, metricsToken: '' },
        limits: {
          maxConnectionsPerListener: 1000,
          handshakeTimeout: 10_000,
          grpc: {
            maxConcurrentStreams: 100,
            maxConnectionIdle: 300_000,
            maxConnectionAge: 3_600_000,
            maxConnectionAgeGrace: 30_000,
            keepaliveTime: 30_000,
            keepaliveTimeout: 10_000,
          },
          rest: {
            headersTimeout: 10_000,
            requestTimeout: 30_000,
            keepAliveTimeout: 5000,
            maxRequestsPerConnection: 100,
            maxConcurrentRequestsPerConnection: 4,
            maxPipelinedRequestsPerConnection: 16,
          },
        },
        cleanup: { interval: 60_000, batchSize: 500, maxBatches: 20 },
        log: { level: 'info', pretty: false },
      });
    });

    it('refuses a REST header timeout longer than the request timeout (Node would swap them)', () => {
      expect(configError(writeFile('yaml', `${MINIMAL_YAML}limits: { rest: { headersTimeout: PT1M } }\n`))).to.match(
        /limits\.rest\.headersTimeout: headersTimeout must not be longer than requestTimeout/,
      );
    });

    it('reads durations as milliseconds (P1095D is 1095 × 86 400 000)', () => {
      const { config } = loadConfig(undefined, {});
      expect(config.capsules.expiry.default).to.equal(94_608_000_000);
      expect(config.capsules.expiry.max).to.equal(157_680_000_000);
    });

    it('does not require tls or clientCa (the zero-configuration start invents them)', () => {
      const { config } = loadConfig(undefined, {});
      expect(config.tls).to.equal(undefined);
      expect(config.capsules.clientCa).to.deep.equal([]);
    });
  });

  describe('from a file', () => {
    it('reads YAML and resolves relative paths against the file’s directory', () => {
      const file = writeFile('yaml', `${MINIMAL_YAML}database:\n  url: sqlite:./data/keys.sqlite\nhost: 0.0.0.0\n`);
      const { config, file: from } = loadConfig(file, {});
      expect(from).to.equal(file);
      expect(config.host).to.equal('0.0.0.0');
      expect(config.database.url).to.equal(`sqlite:${join(dir, 'data', 'keys.sqlite')}`);
      expect(config.tls).to.deep.equal({ cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') });
      expect(config.capsules.clientCa).to.deep.equal([join(dir, 'ca.pem')]);
    });

    it('resolves the default SQLite path against the file’s directory too', () => {
      const { config } = loadConfig(writeFile('yaml', MINIMAL_YAML), {});
      expect(config.database.url).to.equal(`sqlite:${join(dir, 'var', 'cdoc2.sqlite')}`);
    });

    it('reads JSON, keeping absolute paths and a mysql URL as they are', () => {
      const file = writeFile(
        'json',
        JSON.stringify({
          database: { url: 'mysql://user:pass@127.0.0.1:3306/cdoc2', pool: { max: 4 } },
          tls: { cert: '/etc/cdoc2/server.pem', key: 'keys/server-key.pem' },
          capsules: {
            clientCa: ['/etc/cdoc2/ca-1.pem', 'ca-2.pem'],
            ports: { restSender: 0, grpcRecipient: 65535 },
            expiry: { default: 'P30D', max: 'P60D' },
          },
          shares: { enabled: false },
          cleanup: { interval: 'PT30S', batchSize: 100 },
          log: { level: 'debug', pretty: true },
        }),
      );
      const { config } = loadConfig(file, {});
      expect(config.database).to.deep.equal({
        url: 'mysql://user:pass@127.0.0.1:3306/cdoc2',
        migrate: true,
        migrationLockTimeout: 120_000,
        pool: { max: 4 },
        queryTimeout: 5000,
        readinessTimeout: 1000,
      });
      expect(config.tls).to.deep.equal({ cert: '/etc/cdoc2/server.pem', key: join(dir, 'keys', 'server-key.pem') });
      expect(config.capsules.clientCa).to.deep.equal(['/etc/cdoc2/ca-1.pem', join(dir, 'ca-2.pem')]);
      expect(config.capsules.ports).to.deep.equal({
        restSender: 0,
        restRecipient: 8444,
        grpcSender: 50051,
        grpcRecipient: 65535,
      });
      expect(config.capsules.expiry).to.deep.equal({ default: 30 * DAY, max: 60 * DAY });
      expect(config.cleanup).to.deep.equal({ interval: 30_000, batchSize: 100, maxBatches: 20 });
      expect(config.log).to.deep.equal({ level: 'debug', pretty: true });
    });

    it('accepts a file with capsules disabled and no clientCa', () => {
      const file = writeFile(
        'yaml',
        'tls: { cert: s.pem, key: k.pem }\ncapsules:\n  enabled: false\nshares:\n  enabled: false\n',
      );
      const { config } = loadConfig(file, {});
      expect(config.capsules.enabled).to.equal(false);
      expect(config.capsules.clientCa).to.deep.equal([]);
    });

    it('resolves shares.trustedIssuers against the file and keeps the base URLs as written', () => {
      const { config } = loadConfig(writeFile('yaml', MINIMAL_YAML), {});
      expect(config.shares.trustedIssuers).to.deep.equal([join(dir, 'auth-ca.pem')]);
      expect(config.shares.baseUrls).to.deep.equal(['https://css.example.org']);
    });

    it('refuses a file with shares enabled and no base URL, or no trusted issuer', () => {
      const base = 'tls: { cert: s.pem, key: k.pem }\ncapsules: { enabled: false }\n';
      expect(configError(writeFile('yaml', `${base}shares: { trustedIssuers: [a.pem] }\n`))).to.match(
        /^shares\.baseUrls: /,
      );
      expect(configError(writeFile('yaml', `${base}shares: { baseUrls: [https://css.test] }\n`))).to.match(
        /^shares\.trustedIssuers: /,
      );
    });

    it('refuses a base URL that is not https, or has a query', () => {
      expect(configError(undefined, { CDOC2_SHARES_BASE_URLS: 'http://css.test' })).to.match(
        /^shares\.baseUrls\.0: .*https/,
      );
      expect(configError(undefined, { CDOC2_SHARES_BASE_URLS: 'https://css.test/?a=1' })).to.match(
        /^shares\.baseUrls\.0: /,
      );
    });
  });

  describe('environment overrides', () => {
    it('overrides the database URL with CDOC2_DATABASE_URL', () => {
      const { config } = loadConfig(writeFile('yaml', `${MINIMAL_YAML}database: { url: 'sqlite:a.db' }\n`), {
        CDOC2_DATABASE_URL: 'mysql://u:p@db:3306/cdoc2',
      });
      expect(config.database.url).to.equal('mysql://u:p@db:3306/cdoc2');
    });

    it('reads CDOC2_CAPSULES_PORTS_REST_SENDER=9443 as the number 9443', () => {
      const { config } = loadConfig(writeFile('yaml', MINIMAL_YAML), { CDOC2_CAPSULES_PORTS_REST_SENDER: '9443' });
      expect(config.capsules.ports.restSender).to.equal(9443);
      expect(config.capsules.ports.restRecipient).to.equal(8444);
    });

    it('reads CDOC2_CAPSULES_CLIENT_CA=a.pem,b.pem as a list, resolved against the file’s directory', () => {
      const { config } = loadConfig(writeFile('yaml', MINIMAL_YAML), { CDOC2_CAPSULES_CLIENT_CA: 'a.pem,b.pem' });
      expect(config.capsules.clientCa).to.deep.equal([join(dir, 'a.pem'), join(dir, 'b.pem')]);
    });

    it('reads a list given as a JSON array, and trims and drops empty items of a comma list', () => {
      expect(
        loadConfig(undefined, { CDOC2_CAPSULES_CLIENT_CA: '["/x/a.pem", "/x/b.pem"]' }).config.capsules.clientCa,
      ).to.deep.equal(['/x/a.pem', '/x/b.pem']);
      expect(
        loadConfig(undefined, { CDOC2_CAPSULES_CLIENT_CA: ' /x/a.pem , ,/x/b.pem,' }).config.capsules.clientCa,
      ).to.deep.equal(['/x/a.pem', '/x/b.pem']);
    });

    it('reads booleans', () => {
      const { config } = loadConfig(undefined, {
        CDOC2_CAPSULES_ENABLED: 'false',
        CDOC2_DATABASE_MIGRATE: 'false',
        CDOC2_LOG_PRETTY: 'true',
      });
      expect(config.capsules.enabled).to.equal(false);
      expect(config.database.migrate).to.equal(false);
      expect(config.log.pretty).to.equal(true);
    });

    it('reads durations and nested numbers', () => {
      const { config } = loadConfig(undefined, {
        CDOC2_CAPSULES_EXPIRY_DEFAULT: 'P7D',
        CDOC2_CLEANUP_BATCH_SIZE: '250',
        CDOC2_DATABASE_POOL_MAX: '3',
      });
      expect(config.capsules.expiry.default).to.equal(7 * DAY);
      expect(config.cleanup.batchSize).to.equal(250);
      expect(config.database.pool.max).to.equal(3);
    });

    it('supplies tls from the environment', () => {
      const { config } = loadConfig(undefined, { CDOC2_TLS_CERT: '/x/c.pem', CDOC2_TLS_KEY: '/x/k.pem' });
      expect(config.tls).to.deep.equal({ cert: '/x/c.pem', key: '/x/k.pem' });
    });

    it('ignores variables without the CDOC2_ prefix', () => {
      const { config } = loadConfig(undefined, { PATH: '/usr/bin', DATABASE_URL: 'mysql://x', CDOC2: 'x' });
      expect(config.database.url).to.match(/^sqlite:/);
    });

    it('takes the environment it is given, not process.env', () => {
      const { config } = loadConfig(undefined, { CDOC2_HOST: '10.1.2.3' });
      expect(config.host).to.equal('10.1.2.3');
      expect(loadConfig(undefined, {}).config.host).to.equal('127.0.0.1');
    });
  });

  describe('errors: one line, a ConfigError, naming the key', () => {
    it('refuses an unknown top-level key in the file', () => {
      const message = configError(writeFile('yaml', `${MINIMAL_YAML}databse:\n  url: sqlite:x.db\n`));
      expect(message).to.include('databse');
      expect(message).to.match(/unrecognized key/i);
    });

    it('refuses an unknown nested key in the file, naming its parent', () => {
      const message = configError(writeFile('yaml', `${MINIMAL_YAML}  ports: { restSendr: 9443 }\n`));
      expect(message).to.match(/^capsules\.ports: /);
      expect(message).to.include('restSendr');
    });

    it('refuses an unknown CDOC2_ variable, naming it', () => {
      const message = configError(undefined, { CDOC2_DATABASE_URI: 'mysql://x' });
      expect(message).to.match(/^CDOC2_DATABASE_URI: not a configuration key/);
    });

    it('refuses a port of 70000 in the file', () => {
      const message = configError(writeFile('yaml', `${MINIMAL_YAML}  ports: { restSender: 70000 }\n`));
      expect(message).to.match(/^capsules\.ports\.restSender: /);
      expect(message).to.include('65535');
    });

    it('refuses a port of 70000 from the environment', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_GRPC_SENDER: '70000' })).to.match(
        /^capsules\.ports\.grpcSender: /,
      );
    });

    it('refuses a negative port and a fractional port', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: '-1' })).to.match(
        /^capsules\.ports\.restSender: /,
      );
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: '1.5' })).to.match(
        /^CDOC2_CAPSULES_PORTS_REST_SENDER: "1\.5" is not a whole number/,
      );
    });

    it('refuses a non-numeric number from the environment, naming the variable', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: 'https' })).to.equal(
        'CDOC2_CAPSULES_PORTS_REST_SENDER: "https" is not a whole number',
      );
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: '' })).to.match(
        /^CDOC2_CAPSULES_PORTS_REST_SENDER: /,
      );
    });

    it('refuses a boolean other than true or false', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_ENABLED: 'yes' })).to.equal(
        'CDOC2_CAPSULES_ENABLED: must be true or false, got "yes"',
      );
    });

    it('refuses a malformed JSON list from the environment', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_CLIENT_CA: '["a.pem"' })).to.equal(
        'CDOC2_CAPSULES_CLIENT_CA: is not a JSON array',
      );
    });

    it('refuses expiry.default: P1Y, explaining that years have no fixed length', () => {
      const message = configError(writeFile('yaml', `${MINIMAL_YAML}  expiry: { default: P1Y }\n`));
      expect(message).to.match(/^capsules\.expiry\.default: /);
      expect(message).to.include('years or months');
    });

    it('refuses a duration that is not ISO 8601', () => {
      expect(configError(undefined, { CDOC2_CLEANUP_INTERVAL: '5 minutes' })).to.match(/^cleanup\.interval: /);
    });

    it('refuses a default expiry longer than the max', () => {
      const message = configError(writeFile('yaml', `${MINIMAL_YAML}  expiry: { default: P30D, max: P7D }\n`));
      expect(message).to.equal('capsules.expiry.default: the default must not be longer than the max');
    });

    it('refuses a default expiry of zero', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_EXPIRY_DEFAULT: 'P0D' })).to.equal(
        'capsules.expiry.default: must be longer than zero',
      );
    });

    it('refuses a database URL that is neither mysql nor sqlite', () => {
      expect(configError(undefined, { CDOC2_DATABASE_URL: 'postgres://db/cdoc2' })).to.match(/^database\.url: /);
    });

    it('refuses an unknown log level', () => {
      expect(configError(undefined, { CDOC2_LOG_LEVEL: 'verbose' })).to.match(/^log\.level: /);
    });

    it('refuses a file without tls', () => {
      const message = configError(writeFile('yaml', 'capsules:\n  clientCa: [ca.pem]\n'));
      expect(message).to.match(/^tls: required/);
    });

    it('refuses an empty file (it has no tls)', () => {
      expect(configError(writeFile('yaml', ''))).to.match(/^tls: /);
    });

    it('refuses tls with only a cert', () => {
      expect(configError(writeFile('yaml', 'tls: { cert: s.pem }\ncapsules: { clientCa: [ca.pem] }\n'))).to.match(
        /^tls\.key: /,
      );
    });

    it('refuses a file with capsules enabled and no clientCa', () => {
      const message = configError(writeFile('yaml', 'tls: { cert: s.pem, key: k.pem }\n'));
      expect(message).to.match(/^capsules\.clientCa: /);
    });

    it('refuses an unreadable (missing) file, naming it and the reason', () => {
      const missing = join(dir, 'no-such-config.yaml');
      expect(configError(missing)).to.equal(`cannot read configuration file ${missing}: ENOENT`);
    });

    it('refuses a directory given as the file', () => {
      expect(configError(dir)).to.match(/^cannot read configuration file .*: EISDIR$/);
    });

    it('refuses invalid YAML in one line naming the file', () => {
      const file = writeFile('yaml', 'tls:\n  cert: [s.pem\n  key: }\n');
      expect(configError(file)).to.match(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid YAML: `),
      );
    });

    it('refuses duplicate keys in YAML', () => {
      expect(configError(writeFile('yaml', `${MINIMAL_YAML}host: a\nhost: b\n`))).to.include('is not valid YAML');
    });

    it('refuses invalid JSON in a .json file', () => {
      expect(configError(writeFile('json', '{"tls": '))).to.include('is not valid JSON');
    });

    it('refuses a top level that is a list, not a mapping', () => {
      expect(configError(writeFile('yaml', '- tls\n- capsules\n'))).to.include('the top level must be a mapping');
    });
  });

  describe('surprising leniency', () => {
    it('refuses a port written in hexadecimal or exponent notation', () => {
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: '0x10' })).to.match(
        /^CDOC2_CAPSULES_PORTS_REST_SENDER: /,
      );
      expect(configError(undefined, { CDOC2_CAPSULES_PORTS_REST_SENDER: '9.443e3' })).to.match(
        /^CDOC2_CAPSULES_PORTS_REST_SENDER: /,
      );
    });

    it('refuses a cleanup interval of zero or longer than setInterval can hold', () => {
      expect(configError(undefined, { CDOC2_CLEANUP_INTERVAL: 'PT0S' })).to.match(/^cleanup\.interval: /);
      expect(configError(undefined, { CDOC2_CLEANUP_INTERVAL: 'P30D' })).to.match(/^cleanup\.interval: /);
    });
  });
});

describe('envName', () => {
  const cases: ReadonlyArray<[string[], string]> = [
    [['database', 'url'], 'CDOC2_DATABASE_URL'],
    [['capsules', 'ports', 'restSender'], 'CDOC2_CAPSULES_PORTS_REST_SENDER'],
    [['capsules', 'ports', 'grpcRecipient'], 'CDOC2_CAPSULES_PORTS_GRPC_RECIPIENT'],
    [['capsules', 'clientCa'], 'CDOC2_CAPSULES_CLIENT_CA'],
    [['cleanup', 'batchSize'], 'CDOC2_CLEANUP_BATCH_SIZE'],
    [['host'], 'CDOC2_HOST'],
  ];
  for (const [path, name] of cases) {
    it(`maps ${path.join('.')} to ${name}`, () => {
      expect(envName(path)).to.equal(name);
    });
  }
});
