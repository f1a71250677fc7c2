import { Metadata, status, type ServerInterceptingCallInterface } from '@grpc/grpc-js';
import { expect } from 'chai';
import { recordingPipeline } from '../support/recording-pipeline.js';
import { callRefusal } from '../../src/transport/grpc/call-refusal.js';
import { metadataLimit } from '../../src/transport/grpc/metadata-limit.js';
import { OPERATIONS } from '../../src/transport/operations.js';
import { REQUEST_LOG_FIELDS } from '../../src/transport/request-pipeline.js';

type Status = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];
type Listener = Parameters<ServerInterceptingCallInterface['start']>[0];

/**
 * The call below the interceptor, as grpc-js hands it over: it delivers `metadata` when started and keeps the
 * status it is asked to send. Nothing here touches the network.
 */
function innerCall(metadata: Metadata) {
  const sent: Status[] = [];
  const call: ServerInterceptingCallInterface = {
    start: (listener: Listener) => listener.onReceiveMetadata(metadata),
    sendMetadata: () => {},
    sendMessage: () => {},
    sendStatus: (answer) => sent.push(answer),
    startRead: () => {},
    getPeer: () => '127.0.0.1:5000',
    getDeadline: () => Infinity,
    getHost: () => 'localhost',
    getAuthContext: () => ({}),
    getConnectionInfo: () => ({}),
    getMetricsRecorder: () => {
      throw new Error('not used');
    },
  };
  return { call, sent };
}

/** Runs one call with `metadata` through the interceptor; what reached the handler side, was sent and recorded. */
function run(path: string, metadata: Metadata) {
  const { pipeline, lines, observed } = recordingPipeline();
  const refuse = callRefusal(pipeline, 'capsules-sender');
  const { call, sent } = innerCall(metadata);
  const method = { path, requestStream: false, responseStream: false } as const;
  const intercepted = metadataLimit(refuse)(
    { ...method, requestDeserialize: (bytes: Buffer) => bytes, responseSerialize: (value: Buffer) => value },
    call,
  );
  const passedOn: Metadata[] = [];
  intercepted.start({
    onReceiveMetadata: (received) => passedOn.push(received),
    onReceiveMessage: () => {},
    onReceiveHalfClose: () => {},
    onCancel: () => {},
  });
  return { passedOn, sent, lines: lines.filter((line) => line['msg'] === 'request'), observed };
}

const metadataOf = (entries: number, bytes: number): Metadata => {
  const metadata = new Metadata();
  for (let i = 0; i < entries; i++) {
    metadata.set(`x-${i}`, 'a'.repeat(bytes));
  }
  return metadata;
};

describe('gRPC metadata limit', () => {
  const create = OPERATIONS.CreateKeyCapsule.grpcPath;

  it('refuses 20 KiB of metadata with RESOURCE_EXHAUSTED and records one request line and one count', () => {
    const { passedOn, sent, lines, observed } = run(create, metadataOf(5, 4096));
    expect(passedOn, 'nothing reaches the handler').to.have.length(0);
    expect(sent.map((answer) => answer.code)).to.deep.equal([status.RESOURCE_EXHAUSTED]);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({
      transport: 'grpc',
      listener: 'capsules-sender',
      operation: 'CreateKeyCapsule',
      outcome: 'header_fields_too_large',
      status: 'RESOURCE_EXHAUSTED',
      peer: '127.0.0.1:5000',
    });
    expect(String(lines[0]?.['reason'])).to.match(/metadata is larger than 16384 bytes/);
    const own = Object.keys(lines[0] ?? {}).filter((key) => !['level', 'time', 'service', 'msg'].includes(key));
    expect(own).to.deep.equal(REQUEST_LOG_FIELDS.filter((field) => field !== 'certificate'));
    expect(observed).to.deep.equal(['grpc CreateKeyCapsule header_fields_too_large']);
  });

  it('passes metadata under the limit on to the handler and records nothing itself', () => {
    const { passedOn, sent, lines, observed } = run(create, metadataOf(3, 4096));
    expect(passedOn).to.have.length(1);
    expect(sent).to.deep.equal([]);
    expect(lines).to.deep.equal([]);
    expect(observed).to.deep.equal([]);
  });

  it('records a refused call to a method that is no operation (health) as operation unknown on its listener', () => {
    const { sent, lines, observed } = run('/grpc.health.v1.Health/Check', metadataOf(1, 20 * 1024));
    expect(sent.map((answer) => answer.code)).to.deep.equal([status.RESOURCE_EXHAUSTED]);
    expect(lines[0]).to.include({ listener: 'capsules-sender', operation: 'unknown' });
    expect(observed).to.deep.equal(['grpc unknown header_fields_too_large']);
  });
});
