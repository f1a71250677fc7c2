import { expect } from 'chai';
import { https, startTestServer, type TestServer } from '../support/test-server.js';

describe('smoke', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('answers 405 on GET /key-capsules of the sender listener', async () => {
    const res = await https(server.pki, { port: server.ports.restSender, method: 'GET', path: '/key-capsules' });
    expect(res.status).to.equal(405);
  });
});
