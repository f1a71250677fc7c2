#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCommandLine, USAGE_EXIT_CODE, type Invocation, type ProgramSpec } from '../cli/command-line.js';
import { ConfigError, configurationKeys, loadConfig } from '../config/load-config.js';
import { resolveConfig } from '../config/resolve-config.js';
import { createLogger } from '../logging/logger.js';
import { ensureDevPki } from '../pki/dev-pki.js';
import { createDatabase, migrateLatest, type Database } from '../storage/database.js';
import { databaseUnusable, redactUrl, startApp } from './app.js';
import { assertListenersCanStart } from './listener-ports.js';
import { packageInfo } from './paths.js';
import { writeDevServerList } from './dev-client.js';
import { formatSummary } from './summary.js';

type Command = 'serve' | 'migrate' | 'dev-pki';

const CONFIG_OPTION = {
  name: 'config',
  short: 'c',
  value: 'FILE',
  description: 'the configuration file, YAML or JSON (README "Configuration"; deploy/config.example.yaml)',
};

const environment = (prefix: string) =>
  configurationKeys()
    .filter(({ key }) => key.startsWith(prefix))
    .map(({ key, variable }) => ({ name: variable, description: `overrides ${key}` }));

const PROGRAM: ProgramSpec<Command> = {
  name: 'cdoc2-keyserver',
  version: packageInfo().version,
  summary: 'the CDOC2 key capsule server and shares server',
  commands: [
    {
      name: 'serve',
      summary: 'start the servers (no FILE: development mode, SQLite and a development PKI in ./var/)',
      options: [CONFIG_OPTION],
      environment: environment(''),
      details:
        'SIGTERM or SIGINT stops it cleanly: listeners stop accepting, requests in flight finish, exit code 0.\n' +
        'A second signal (more than a second later) exits at once with code 1.',
    },
    {
      name: 'migrate',
      summary: 'apply pending database migrations and exit (reads only the database section)',
      options: [CONFIG_OPTION],
      environment: environment('database.'),
    },
    {
      name: 'dev-pki',
      summary: 'create a self-signed development PKI (never for production)',
      arguments: [{ name: 'DIR', description: 'the folder to write it to (kept as it is when it holds one)' }],
    },
  ],
};

/** How long a repeated signal counts as the same request to stop (see below). */
const SAME_SIGNAL_MS = 1000;

async function serve(configFile: string | undefined): Promise<void> {
  const loaded = loadConfig(configFile);
  if (!loaded.file) {
    // The zero-configuration start keeps everything in ./var/ (the default database path too).
    mkdirSync(resolve('var'), { recursive: true });
  }
  const config = await resolveConfig(loaded);
  const logger = createLogger(config.log);
  await assertListenersCanStart(config);
  const app = await startApp(config, { logger });
  process.stdout.write(
    formatSummary({
      host: config.host,
      capsulePorts: app.capsulePorts,
      sharePorts: app.sharePorts,
      management:
        app.managementPort === undefined ? undefined : { host: config.management.host, port: app.managementPort },
      devPki: config.devPki,
      serverList: config.devPki && writeDevServerList(config.devPki, 'localhost', app.capsulePorts, app.sharePorts),
      database: redactUrl(config.database.url),
    }) + '\n',
  );
  logger.info(
    { capsulePorts: app.capsulePorts, sharePorts: app.sharePorts, managementPort: app.managementPort },
    'started',
  );

  let stopping: { signal: string; at: number } | undefined;
  const stop = (signal: string): void => {
    if (stopping) {
      // Ctrl-C in a terminal reaches every process of the foreground group, and `npm start` forwards it once
      // more: the same signal again within a second is the same request. A later one means "now".
      if (signal === stopping.signal && Date.now() - stopping.at < SAME_SIGNAL_MS) {
        return;
      }
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = { signal, at: Date.now() };
    logger.info({ signal }, 'stopping');
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  stopWhenOrphaned(() => stop('parent exited'));
}

/** How often a server started by npm checks that npm is still there. */
const PARENT_CHECK_MS = 500;

/**
 * `npm exec cdoc2-keyserver serve` runs this process under `sh -c`: a SIGTERM to npm (what a supervisor sends)
 * ends npm and the shell but never reaches this process, which would keep every port. Under npm
 * (`npm_lifecycle_event` is set) nobody waits for this process once its parent is gone, so that means stop.
 * (`npm start` has no shell in between: its script `exec`s node, so npm's forwarded signals arrive here.)
 */
function stopWhenOrphaned(stop: () => void): void {
  if (process.env['npm_lifecycle_event'] === undefined) {
    return;
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}

async function migrate(configFile: string | undefined): Promise<void> {
  const { config } = loadConfig(configFile, process.env, 'migrate');
  const url = redactUrl(config.database.url);
  let db: Database | undefined;
  let applied: readonly string[];
  try {
    db = createDatabase({ url: config.database.url });
    applied = await migrateLatest(db, { lockTimeoutMs: config.database.migrationLockTimeout });
  } catch (error) {
    throw databaseUnusable(config.database.url, error);
  } finally {
    await db?.destroy();
  }
  process.stdout.write(
    applied.length === 0
      ? `nothing to apply: ${url} is at the latest schema\n`
      : `applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${url}: ${applied.join(', ')}\n`,
  );
}

async function devPki(dir: string): Promise<void> {
  const { paths, created } = await ensureDevPki(resolve(dir));
  process.stdout.write(`${created ? 'created' : 'kept the existing'} development PKI:\n`);
  for (const [name, path] of Object.entries(paths)) {
    process.stdout.write(`  ${name.padEnd(10)} ${path}\n`);
  }
}

function run(invocation: Invocation<Command>): Promise<void> {
  switch (invocation.command) {
    case 'serve':
      return serve(invocation.option('config'));
    case 'migrate':
      return migrate(invocation.option('config'));
    case 'dev-pki':
      return devPki(invocation.arguments[0] as string);
  }
}

/** Runs the command line; resolves with the exit code, or undefined while a server keeps the process alive. */
export async function main(argv: readonly string[]): Promise<number | undefined> {
  const line = parseCommandLine(PROGRAM, argv);
  if (line.kind === 'print') {
    (line.stream === 'stdout' ? process.stdout : process.stderr).write(line.text);
    return line.exitCode;
  }
  try {
    await run(line.invocation);
    return line.invocation.command === 'serve' ? undefined : 0;
  } catch (error) {
    // One clear line, a non-zero exit: configuration mistakes are the operator's to fix, not a crash to debug.
    if (error instanceof ConfigError) {
      process.stderr.write(`${PROGRAM.name}: ${error.message}\n`);
      return USAGE_EXIT_CODE;
    }
    process.stderr.write(`${PROGRAM.name}: failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    if (code !== undefined) {
      // exit(), so that nothing a failed start left open keeps the process alive (writes to pipes, files and
      // terminals are synchronous on POSIX, so nothing printed is lost).
      process.exit(code);
    }
  });
}
