import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { resolveConfig } from '../config/resolve-config.js';
import { createLogger } from '../logging/logger.js';
import { startApp } from './app.js';
import { redactUrl } from './database-setup.js';
import { writeDevServerList } from './dev-client.js';
import { assertListenersCanStart } from './listener-ports.js';
import { stopOnSignals } from './stop-signals.js';
import { formatSummary } from './summary.js';

/** `cdoc2-keyserver serve`: resolve the configuration once, start every server, print the summary, wait. */
export async function serve(configFile: string | undefined): Promise<void> {
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
  stopOnSignals(app, logger);
}
