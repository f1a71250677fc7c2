import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { capsuleFor, capsuleJson, protoCapsule } from '../support/capsule-fixtures.js';
import {
  grpcCreateCapsule,
  https,
  PROBLEM_ACCEPT,
  senderClient,
  startTestServer,
  type TestServer,
} from '../support/test-server.js';

/**
 * grpc-js sends the message of an unknown error to the client, and a careless REST handler would too. Here the
 * database fails under the server with a real SQL error (its table is gone): clients must get a generic internal
 * error with a log reference, never the SQL.
 */
describe('internal errors never reach a client', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    await server.app.database.schema.renameTable('key_capsules', 'key_capsules_hidden');
  });
  after(async () => {
    await server.app.database.schema.renameTable('key_capsules_hidden', 'key_capsules');
    await server.close();
  });

  const post = (headers: Record<string, string>) =>
    https(server.pki, {
      port: server.ports.restSender,
      method: 'POST',
      path: '/key-capsules',
      headers: { ...headers, 'content-type': 'application/json' },
      body: capsuleJson(capsuleFor(server.pki.clients.ecP256)),
    });

  it('answers 500 over REST with an empty body by default', async () => {
    const res = await post({});
    expect(res.status).to.equal(500);
    expect(res.body).to.equal('');
    expect(res.headers['x-request-id']).to.be.a('string');
  });

  it('answers 500 over REST with a log reference and no SQL when problem details are asked for', async () => {
    const res = await post(PROBLEM_ACCEPT);
    expect(res.status).to.equal(500);
    const problem = JSON.parse(res.body) as { detail: string };
    expect(problem.detail).to.match(/^internal error \(log reference [0-9a-f]{16}\)$/);
    expect(res.body).to.not.match(/key_capsules|insert|doesn't exist|ER_/i);
  });

  it('answers INTERNAL over gRPC with a log reference and no SQL', async () => {
    const sender = senderClient(server.pki, server.ports.grpcSender);
    const capsule = capsuleFor(server.pki.clients.ecP256);
    try {
      await grpcCreateCapsule(sender, {
        capsule: protoCapsule(capsule),
      });
      expect.fail('the call succeeded');
    } catch (error) {
      const serviceError = error as ServiceError;
      expect(serviceError.code).to.equal(status.INTERNAL);
      expect(serviceError.details).to.match(/^internal error \(log reference [0-9a-f]{16}\)$/);
    } finally {
      sender.close();
    }
  });
});
