#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { resolveConfig } from '../config/resolve-config.js';
import { createLogger } from '../logging/logger.js';
import { ensureDevPki } from '../pki/dev-pki.js';
import { createDatabase, migrateLatest } from '../storage/database.js';
import { redactUrl, startApp } from './app.js';
import { writeDevServerList } from './dev-client.js';
import { formatSummary } from './summary.js';

const USAGE = `usage:
  cdoc2-keyserver serve [--config FILE]    start the servers (no FILE: development mode, SQLite and a dev PKI in ./var/)
  cdoc2-keyserver migrate [--config FILE]  apply pending database migrations and exit
  cdoc2-keyserver dev-pki DIR              create a self-signed development PKI in DIR
`;

async function serve(configFile: string | undefined): Promise<void> {
  const config = await resolveConfig(loadConfig(configFile));
  const logger = createLogger(config.log);
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
  logger.info({ capsulePorts: app.capsulePorts, sharePorts: app.sharePorts }, 'started');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
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
}

async function migrate(configFile: string | undefined): Promise<void> {
  const { config } = loadConfig(configFile);
  const db = createDatabase({ url: config.database.url });
  try {
    await migrateLatest(db, { lockTimeoutMs: config.database.migrationLockTimeout });
    process.stdout.write(`migrations applied to ${redactUrl(config.database.url)}\n`);
  } finally {
    await db.destroy();
  }
}

async function devPki(dir: string | undefined): Promise<void> {
  if (!dir) {
    throw new ConfigError('dev-pki needs a directory: cdoc2-keyserver dev-pki DIR');
  }
  const { paths, created } = await ensureDevPki(resolve(dir));
  process.stdout.write(`${created ? 'created' : 'kept the existing'} development PKI:\n`);
  for (const [name, path] of Object.entries(paths)) {
    process.stdout.write(`  ${name.padEnd(10)} ${path}\n`);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'serve':
      return serve(values.config);
    case 'migrate':
      return migrate(values.config);
    case 'dev-pki':
      return devPki(rest[0]);
    default:
      throw new ConfigError(`unknown command "${command}"\n${USAGE}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    // One clear line, a non-zero exit: configuration mistakes are the operator's to fix, not a crash to debug.
    if (error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`cdoc2-keyserver: ${(error as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`cdoc2-keyserver: failed to start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
