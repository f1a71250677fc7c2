import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { credentials, loadPackageDefinition, type ClientDuplexStream, type GrpcObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number };
}

type ReflectionStream = ClientDuplexStream<Record<string, string>, ReflectionResponse>;

/** A grpc.reflection.v1 client, as grpcurl uses, from the proto shipped with @grpc/reflection. */
function reflectionClient(port: number, ca: string): { info(): ReflectionStream; close(): void } {
  const protoDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const definition = loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [protoDir] });
  const reflection = ((loadPackageDefinition(definition)['grpc'] as GrpcObject)['reflection'] as GrpcObject)[
    'v1'
  ] as GrpcObject;
  const Client = reflection['ServerReflection'] as unknown as new (
    address: string,
    creds: ReturnType<typeof credentials.createSsl>,
    options: Record<string, string>,
  ) => { serverReflectionInfo(): ReflectionStream; close(): void };
  const client = new Client(`127.0.0.1:${port}`, credentials.createSsl(Buffer.from(ca)), {
    'grpc.ssl_target_name_override': 'localhost',
  });
  return { info: () => client.serverReflectionInfo(), close: () => client.close() };
}

const ask = (
  client: ReturnType<typeof reflectionClient>,
  request: Record<string, string>,
): Promise<ReflectionResponse> =>
  new Promise((resolve, reject) => {
    const stream = client.info();
    stream.on('data', (response: ReflectionResponse) => {
      resolve(response);
      stream.end();
    });
    stream.on('error', reject);
    stream.write(request);
  });

describe('gRPC server reflection', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it("lists each listener's own services and the health service", async () => {
    const expectations: Array<[number, string[]]> = [
      [server.ports.grpcSender, ['cdoc2.capsules.v1.KeyCapsuleSenderService', 'grpc.health.v1.Health']],
      [
        server.sharePorts.grpc,
        ['cdoc2.shares.v1.KeyShareRecipientService', 'cdoc2.shares.v1.KeyShareSenderService', 'grpc.health.v1.Health'],
      ],
    ];
    for (const [port, services] of expectations) {
      const client = reflectionClient(port, server.pki.ca.certPem);
      try {
        const response = await ask(client, { listServices: '' });
        const names = (response.listServicesResponse?.service ?? []).map((service) => service.name).sort();
        expect(names).to.include.members(services);
        expect(names).to.not.include('cdoc2.capsules.v1.KeyCapsuleRecipientService');
      } finally {
        client.close();
      }
    }
  });

  it('describes a service so that a tool can call it without the proto files', async () => {
    const client = reflectionClient(server.ports.grpcSender, server.pki.ca.certPem);
    try {
      const response = await ask(client, { fileContainingSymbol: 'cdoc2.capsules.v1.KeyCapsuleSenderService' });
      const files = response.fileDescriptorResponse?.fileDescriptorProto ?? [];
      expect(files.length).to.be.greaterThan(0);
      // proto-loader names the file after the package; what a tool needs is the service and its method in it.
      const text = Buffer.concat(files).toString('latin1');
      expect(text).to.contain('KeyCapsuleSenderService');
      expect(text).to.contain('CreateKeyCapsule');
      expect(text).to.contain('CreateKeyCapsuleRequest');
    } finally {
      client.close();
    }
  });
});
