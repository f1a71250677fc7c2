/**
 * The layering rules of README "Architecture", enforced on every test run:
 * domain is pure; storage implements domain ports; only transport (and the client, the other side of the same
 * wire) imports gen/; nothing imports main; no cycles.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'domain-is-pure',
      comment: 'domain/ knows no transport, database, file system or network',
      severity: 'error',
      from: { path: '^src/domain' },
      to: {
        path: [
          '^src/(storage|transport|main|config|pki|logging)',
          '^gen/',
          '^migrations/',
          'node_modules/(@grpc|knex|mysql2|better-sqlite3|fastify|pino|yaml)',
        ],
      },
    },
    {
      name: 'domain-no-io-builtins',
      severity: 'error',
      from: { path: '^src/domain' },
      to: {
        dependencyTypes: ['core'],
        path: '^(fs|http|https|http2|net|tls|child_process|dgram|node:fs|node:http|node:https|node:http2|node:net|node:tls|node:child_process|node:dgram)$',
      },
    },
    {
      name: 'only-transport-imports-gen',
      comment: 'the generated stubs are wire code: the server transports and the client (its mirror image) use them',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(transport|client)' },
      to: { path: '^gen/' },
    },
    {
      name: 'client-is-a-wire-adapter',
      comment:
        'src/client is shipped to backend systems as a library: it may use the wire stubs (gen/) and the pure domain ' +
        '(capsule types, the SD-JWT ticket format), never server code (storage, server transports, config, main, ' +
        'pki, auth, logging), so that it drags no database driver or server into a client and cannot reach around ' +
        "the servers' rules",
      severity: 'error',
      from: { path: '^src/client' },
      to: {
        path: [
          '^src/(storage|transport|main|config|pki|auth|logging|observability)',
          '^migrations/',
          'node_modules/(knex|mysql2|better-sqlite3|fastify|pino|prom-client)',
        ],
      },
    },
    {
      name: 'servers-do-not-use-the-client',
      comment: 'server code never depends on the client library; main (which only wires) may, for the dev setup',
      severity: 'error',
      from: { path: '^(src|migrations)/', pathNot: '^src/(client|main)' },
      to: { path: '^src/client' },
    },
    {
      name: 'storage-not-transport',
      severity: 'error',
      from: { path: '^src/storage' },
      to: { path: '^src/(transport|main)' },
    },
    {
      name: 'transport-not-storage',
      comment: 'transports reach storage only through domain services',
      severity: 'error',
      from: { path: '^src/transport' },
      to: { path: '^src/(storage|main)' },
    },
    {
      name: 'nothing-imports-main',
      severity: 'error',
      from: { path: '^(src|migrations)/', pathNot: '^src/main' },
      to: { path: '^src/main' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
