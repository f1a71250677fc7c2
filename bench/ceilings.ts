// The bench's ceilings: bare servers of the same stack that do no work, each in its own process, so that the
// key server's rates are read against what grpc-js, Fastify and Node's TLS do alone on this machine and in this
// run. Started by bench/run.ts as `tsx bench/ceilings.ts KIND FILES_JSON`; prints `{"port":N}` once listening.
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import fastify from 'fastify';

export type CeilingKind = 'grpc-echo' | 'fastify-mtls-echo' | 'fastify-tls-echo' | 'tls-handshake';

export interface CeilingFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The bare gRPC method: any bytes in, the same bytes out (no protobuf work either). */
export const ECHO_METHOD = '/bench.Echo/Echo';

const identity = (bytes: Buffer): Buffer => bytes;

async function grpcEcho(files: CeilingFiles): Promise<number> {
  const server = new Server();
  server.addService(
    {
      Echo: {
        path: ECHO_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    { Echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, call.request) },
  );
  const credentials = ServerCredentials.createSsl(
    readFileSync(files.ca),
    [{ cert_chain: readFileSync(files.cert), private_key: readFileSync(files.key) }],
    true,
  );
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
}

async function fastifyEcho(files: CeilingFiles, mutual: boolean): Promise<number> {
  const app = fastify({
    https: {
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      minVersion: 'TLSv1.3',
      ...(mutual ? { ca: readFileSync(files.ca), requestCert: true, rejectUnauthorized: true } : {}),
    },
  });
  app.get('/*', () => ({ echo: true }));
  app.post('/*', (request, reply) => reply.code(201).send(request.body));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** A mutual TLS 1.3 handshake, a fixed HTTP answer, close: what a new connection per request costs at least. */
async function tlsHandshake(files: CeilingFiles): Promise<number> {
  const answer = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}';
  const server = createTlsServer(
    {
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      ca: readFileSync(files.ca),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    (socket) => {
      socket.once('data', () => socket.end(answer));
      socket.on('error', () => socket.destroy());
    },
  );
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    }),
  );
}

async function main(): Promise<void> {
  const [kind, filesJson] = process.argv.slice(2) as [CeilingKind, string];
  const files = JSON.parse(filesJson) as CeilingFiles;
  const port =
    kind === 'grpc-echo'
      ? await grpcEcho(files)
      : kind === 'fastify-mtls-echo'
        ? await fastifyEcho(files, true)
        : kind === 'fastify-tls-echo'
          ? await fastifyEcho(files, false)
          : await tlsHandshake(files);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

if (require.main === module) {
  void main();
}
