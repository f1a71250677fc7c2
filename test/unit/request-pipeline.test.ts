import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordingPipeline } from '../support/recording-pipeline.js';
import { expect } from 'chai';
import { invalidArgument } from '../../src/domain/errors.js';
import { ERROR_TABLE, OUTCOMES, PROTOCOL_ERROR_TABLE, INTERNAL_ERROR } from '../../src/transport/error-table.js';
import { OPERATION_NAMES } from '../../src/transport/operations.js';
import { REQUEST_LOG_FIELDS } from '../../src/transport/request-pipeline.js';

const TICKET = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJQTk9FRS0zMDMwMzAzOTkxNCJ9.c2lnbmF0dXJl~WyJzYWx0IiwiYXVkIl0~';

const START = { transport: 'grpc', listener: 'shares', operation: 'GetKeyShare', peer: '127.0.0.1:5000' } as const;

describe('request pipeline', () => {
  it('records a request abandoned by its client once, when abandoned, and not again when the work ends', () => {
    const { pipeline, lines, observed } = recordingPipeline();
    const trace = pipeline.start(START);
    trace.abandon('deadline_exceeded', 'DEADLINE_EXCEEDED', 'the deadline of the call passed before the answer');
    // The work finishing later (its answer dropped by the transport) changes nothing.
    trace.fail(invalidArgument('too late'));
    trace.finish('INVALID_ARGUMENT');
    trace.abandon('cancelled', 'CANCELLED', 'again');
    const requestLines = lines.filter((line) => line['msg'] === 'request');
    expect(requestLines).to.have.length(1);
    expect(requestLines[0]).to.include({
      outcome: 'deadline_exceeded',
      status: 'DEADLINE_EXCEEDED',
      reason: 'the deadline of the call passed before the answer',
    });
    expect(observed).to.deep.equal(['grpc GetKeyShare deadline_exceeded']);
  });

  it('does not let an abandonment after the answer change what was recorded', () => {
    const { pipeline, lines, observed } = recordingPipeline();
    const trace = pipeline.start({ ...START, transport: 'rest' });
    trace.finish(200);
    trace.abandon('cancelled', 499, 'the client closed the connection before the answer');
    expect(lines.filter((line) => line['msg'] === 'request').map((line) => line['outcome'])).to.deep.equal(['ok']);
    expect(observed).to.deep.equal(['rest GetKeyShare ok']);
  });

  it('writes one log line of exactly the pipeline fields and one metric per request, however often finished', () => {
    const { pipeline, lines, observed } = recordingPipeline();
    const trace = pipeline.start(START);
    trace.refuse(ERROR_TABLE.not_found, 'not found');
    trace.finish('NOT_FOUND');
    trace.finish('OK');
    const requestLines = lines.filter((line) => line['msg'] === 'request');
    expect(requestLines).to.have.length(1);
    const [line] = requestLines;
    const ownFields = Object.keys(line ?? {}).filter((key) => !['level', 'time', 'service', 'msg'].includes(key));
    expect(ownFields).to.deep.equal(REQUEST_LOG_FIELDS.filter((field) => field !== 'certificate'));
    expect(line).to.include({
      outcome: 'not_found',
      status: 'NOT_FOUND',
      reason: 'not found',
      operation: 'GetKeyShare',
    });
    expect(observed).to.deep.equal(['grpc GetKeyShare not_found']);
  });

  it('maps a thrown domain error to its outcome and keeps its message as the reason, but never the request', () => {
    const { pipeline, lines } = recordingPipeline();
    const trace = pipeline.start(START);
    const failure = trace.fail(invalidArgument('the auth ticket is not a JWS'));
    trace.finish('INVALID_ARGUMENT');
    expect(failure.mapping).to.equal(ERROR_TABLE.invalid_argument);
    expect(lines.at(-1)).to.include({ outcome: 'invalid_argument', reason: 'the auth ticket is not a JWS' });
    expect(JSON.stringify(lines)).to.not.contain(TICKET.slice(0, 20));
  });

  it('answers an unknown error as internal, with only a log reference as the reason', () => {
    const { pipeline, lines } = recordingPipeline();
    const trace = pipeline.start({ ...START, transport: 'rest', operation: 'unknown' });
    const failure = trace.fail(new Error(`SQL said ${TICKET}`));
    trace.finish(500);
    expect(failure.mapping).to.equal(INTERNAL_ERROR);
    const line = lines.find((entry) => entry['msg'] === 'request');
    expect(line).to.include({ outcome: 'internal', status: 500, operation: 'unknown' });
    expect(String(line?.['reason'])).to.match(/^internal error \(log reference [0-9a-f]{16}\)$/);
    expect(JSON.stringify(line)).to.not.contain(TICKET.slice(0, 20));
  });

  it('derives the outcome of an unrecorded answer from its status: ok below 400, the table above', () => {
    const outcomes = [201, 'OK', 413, 503, 500].map((status) => {
      const { pipeline, observed } = recordingPipeline();
      pipeline.start(START).finish(status);
      return observed[0]?.split(' ')[2];
    });
    expect(outcomes).to.deep.equal(['ok', 'ok', 'content_too_large', 'unavailable', 'internal']);
  });

  it('has one outcome code for every error table entry, ok, and the two for a request abandoned by its client', () => {
    const tableOutcomes = [...Object.values(ERROR_TABLE), ...Object.values(PROTOCOL_ERROR_TABLE), INTERNAL_ERROR].map(
      (mapping) => mapping.outcome,
    );
    expect([...OUTCOMES].sort()).to.deep.equal(['ok', 'cancelled', 'deadline_exceeded', ...tableOutcomes].sort());
  });
});

describe('README "Health, metrics, logs"', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Health, metrics, logs'), readme.indexOf('### Limits'));

  it('lists every operation name, outcome code and request log field', () => {
    const missing = [...OPERATION_NAMES, ...OUTCOMES, ...REQUEST_LOG_FIELDS].filter(
      (name) => !section.includes(`\`${name}\``),
    );
    expect(section.length).to.be.greaterThan(1000);
    expect(missing).to.deep.equal([]);
  });
});
