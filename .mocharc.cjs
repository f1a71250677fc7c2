// Suites: test/unit (pure), test/integration (real MariaDB and SQLite), test/e2e (real TLS, both transports),
// test/cluster (a three-node MariaDB Galera cluster behind HAProxy, started by the suites themselves).
// Which ones run is chosen by the npm scripts (`npm test` runs all four).
module.exports = {
  require: ['tsx/cjs', 'test/support/root-hooks.ts'],
  extension: ['ts'],
  reporter: 'test/support/reporter.cjs',
  timeout: 30000,
  slow: 2000,
};
