import { expect } from 'chai';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  type HealthCheckResponse,
} from '../../gen/grpc/health/v1/health.js';
import type { IssuedCertificate } from '../../src/pki/certificates.js';
import { call, startTestServer, type TestServer } from '../support/test-server.js';

describe('gRPC health service (grpc.health.v1) on every gRPC listener', () => {
  let server: TestServer;
  const clients: HealthClient[] = [];

  const healthClient = (port: number, client?: IssuedCertificate): HealthClient => {
    const health = new HealthClient(
      `127.0.0.1:${port}`,
      credentials.createSsl(
        Buffer.from(server.pki.ca.certPem),
        client ? Buffer.from(client.keyPem) : null,
        client ? Buffer.from(client.certPem) : null,
      ),
      { 'grpc.ssl_target_name_override': 'localhost' },
    );
    clients.push(health);
    return health;
  };
  const check = (health: HealthClient, service: string) =>
    call<HealthCheckResponse>((callback) => health.check({ service }, callback));

  before(async () => {
    // Its own database (as every test server has): the last test breaks its schema.
    server = await startTestServer();
  });
  after(async () => {
    clients.forEach((client) => client.close());
    await server.close();
  });

  it('reports SERVING for the server and for each service of the listener', async () => {
    const listeners: Array<[number, string[], IssuedCertificate | undefined]> = [
      [server.ports.grpcSender, ['cdoc2.capsules.v1.KeyCapsuleSenderService'], undefined],
      [server.ports.grpcRecipient, ['cdoc2.capsules.v1.KeyCapsuleRecipientService'], server.pki.clients.ecP256],
      [
        server.sharePorts.grpc,
        ['cdoc2.shares.v1.KeyShareSenderService', 'cdoc2.shares.v1.KeyShareRecipientService'],
        undefined,
      ],
    ];
    for (const [port, services, client] of listeners) {
      const health = healthClient(port, client);
      for (const service of ['', ...services]) {
        expect((await check(health, service)).status, `${port} ${service}`).to.equal(ServingStatus.SERVING);
      }
    }
  });

  it('answers NOT_FOUND for a service the listener does not serve', async () => {
    const health = healthClient(server.ports.grpcSender);
    try {
      await check(health, 'cdoc2.capsules.v1.KeyCapsuleRecipientService');
      expect.fail('the check succeeded');
    } catch (error) {
      expect(status[(error as ServiceError).code]).to.equal('NOT_FOUND');
    }
  });

  it('turns NOT_SERVING when the database schema is not current, and tells watchers', async () => {
    const health = healthClient(server.ports.grpcSender);
    const seen: ServingStatus[] = [];
    const stream = health.watch({ service: '' });
    const changed = new Promise<void>((resolve) => {
      stream.on('data', (response: HealthCheckResponse) => {
        seen.push(response.status);
        if (response.status === ServingStatus.NOT_SERVING) {
          resolve();
        }
      });
    });
    stream.on('error', () => undefined);
    await server.app.database.schema.dropTable('knex_migrations');
    await server.app.refreshHealth();
    await changed;
    stream.cancel();
    expect(seen).to.deep.equal([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    expect((await check(health, '')).status).to.equal(ServingStatus.NOT_SERVING);
  });
});
