import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { findPython } from '../support/python.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { OPERATIONS } from '../../src/transport/operations.js';

const run = promisify(execFile);

/**
 * A grpcio client (grpc-core): on one channel, for each shape `[entries, octets per entry, deadline in seconds]`,
 * calls the method at `path` `count` times at once with an empty request (only the metadata matters here) and
 * prints each call's status name, one JSON list per shape. The values are `~`, which Huffman coding does not
 * shorten, so the octets are those on the wire.
 */
const CLIENT = `
import concurrent.futures, json, sys, grpc
port, ca_file, path, count, shapes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
with open(ca_file, 'rb') as f:
    credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
options = [('grpc.ssl_target_name_override', 'localhost')]
channel = grpc.secure_channel('127.0.0.1:' + port, credentials, options=options)
method = channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
def call(metadata, deadline):
    try:
        method(b'', metadata=metadata, timeout=deadline)
        return 'OK'
    except grpc.RpcError as error:
        return error.code().name
results = []
for entries, octets, deadline in shapes:
    metadata = [('x-%d' % i, '~' * octets) for i in range(entries)]
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results.append(list(pool.map(lambda _: call(metadata, deadline), range(count))))
print(json.dumps(results))
`;

/**
 * README "Limits": the server advertises no SETTINGS_MAX_HEADER_LIST_SIZE, so grpc-core, which would honour one and
 * fail locally, sends oversized metadata and reads what the server answers. This is what its users see.
 */
describe('gRPC metadata limits as a grpcio (grpc-core) client sees them', function () {
  this.timeout(120_000);
  let python: string | undefined;
  let server: TestServer | undefined;

  before(async function () {
    python = await findPython(['grpc']);
    if (!python) {
      // Not a silent pass: the reporter lists it as skipped, and `.ci/run` installs grpcio.
      this.skip();
    }
    server = await startTestServer();
  });
  after(() => server?.close());

  it('gets RESOURCE_EXHAUSTED for 20 KiB, RESOURCE_EXHAUSTED or INTERNAL past 128 entries, and the channel recovers from an entry over 64 KiB', async () => {
    const { pki, ports } = server as TestServer;
    const shapes = [
      [1, 20 * 1024, 30],
      [129, 1, 30],
      // A connection error: grpc-core waits for its deadline or reads the GOAWAY as UNAVAILABLE.
      [1, 65 * 1024, 3],
      // The request is empty, so reaching the handler reads INVALID_ARGUMENT.
      [0, 0, 30],
    ];
    const { stdout } = await run(python as string, [
      '-c',
      CLIENT,
      String(ports.grpcSender),
      pki.caFile,
      OPERATIONS.CreateKeyCapsule.grpcPath,
      '10',
      JSON.stringify(shapes),
    ]);
    const [twenty, many, large, after] = (JSON.parse(stdout) as string[][]).map((codes) => [...new Set(codes)]);
    expect(twenty, '20 KiB').to.deep.equal(['RESOURCE_EXHAUSTED']);
    expect(['RESOURCE_EXHAUSTED', 'INTERNAL'], '129 entries').to.include.members(many ?? []);
    expect(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL'], 'an entry of 65 KiB').to.include.members(large ?? []);
    expect(after, 'the next calls on the channel').to.deep.equal(['INVALID_ARGUMENT']);
  });
});
