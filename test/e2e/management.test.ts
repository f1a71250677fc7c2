import { request } from 'node:http';
import { expect } from 'chai';
import { capsuleFor, protoCapsule } from '../support/capsule-fixtures.js';
import { restCreateCapsule } from '../support/rest-round-trip.js';
import { grpcCreateCapsule, https, senderClient, startTestServer, type TestServer } from '../support/test-server.js';

/** A plain-HTTP GET to the management listener. */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          type: String(res.headers['content-type']),
        }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('management listener (health, readiness, info, metrics)', () => {
  let server: TestServer;
  let port: number;

  before(async () => {
    server = await startTestServer({ management: { port: 0, metricsToken: 's3cret-token' } });
    port = server.app.managementPort ?? 0;
  });
  after(() => server.close());

  it('answers liveness and readiness with the database and schema checks', async () => {
    expect(JSON.parse((await get(port, '/health/live')).body)).to.deep.equal({ status: 'ok' });
    const ready = await get(port, '/health/ready');
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.body)).to.deep.equal({ status: 'ok', checks: { database: 'ok', schema: 'ok' } });
  });

  it('tells the version and the server time on /info', async () => {
    const info = JSON.parse((await get(port, '/info')).body) as Record<string, string>;
    expect(info['name']).to.equal('cdoc2-keyserver');
    expect(info['version']).to.match(/^\d+\.\d+\.\d+/);
    expect(Math.abs(new Date(info['serverTime'] ?? '').getTime() - Date.now())).to.be.lessThan(60_000);
  });

  it('requires the bearer token for /metrics when one is configured', async () => {
    expect((await get(port, '/metrics')).status).to.equal(401);
    expect((await get(port, '/metrics', { authorization: 'Bearer wrong-token!' })).status).to.equal(401);
    const metrics = await get(port, '/metrics', { authorization: 'Bearer s3cret-token' });
    expect(metrics.status).to.equal(200);
    expect(metrics.type).to.match(/^text\/plain/);
  });

  it('counts real requests by operation, transport and outcome, and exposes process and OCSP metrics', async () => {
    const capsule = capsuleFor(server.pki.clients.ecP256);
    const created = await restCreateCapsule(server.pki, server.ports.restSender, capsule);
    expect(created.status).to.equal(201);
    await https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { 'content-type': 'application/json' },
      body: '{"bad":',
    });
    const sender = senderClient(server.pki, server.ports.grpcSender);
    try {
      await grpcCreateCapsule(sender, {
        capsule: protoCapsule(capsule),
      });
    } finally {
      sender.close();
    }
    const text = (await get(port, '/metrics', { authorization: 'Bearer s3cret-token' })).body;
    expect(text).to.contain('cdoc2_requests_total{operation="CreateKeyCapsule",transport="rest",outcome="ok"} 1');
    expect(text).to.contain(
      'cdoc2_requests_total{operation="CreateKeyCapsule",transport="rest",outcome="invalid_argument"} 1',
    );
    expect(text).to.contain('cdoc2_requests_total{operation="CreateKeyCapsule",transport="grpc",outcome="ok"} 1');
    expect(text).to.contain('cdoc2_request_duration_seconds_bucket');
    expect(text).to.contain('process_cpu_user_seconds_total');
    expect(text).to.contain('cdoc2_ocsp_cache_hits 0');
    expect(text).to.match(/cdoc2_database_pool_connections\{state="free"\} \d+/);
    expect(text).to.contain('cdoc2_database_pool_connections{state="pending"} 0');
    // Nothing identifying: no capsule ids or key material in labels.
    expect(text).to.not.match(/KC[0-9a-f]{32}/);
  });

  it('turns readiness false, with a short reason, when the database schema is gone', async () => {
    const broken = await startTestServer();
    try {
      const brokenPort = broken.app.managementPort ?? 0;
      expect((await get(brokenPort, '/health/ready')).status).to.equal(200);
      await broken.app.database.schema.dropTable('knex_migrations');
      const ready = await get(brokenPort, '/health/ready');
      expect(ready.status).to.equal(503);
      expect(JSON.parse(ready.body)).to.deep.include({ status: 'unavailable' });
      expect(ready.body).to.not.match(/knex|select|ER_/i);
    } finally {
      await broken.close();
    }
  });
});
