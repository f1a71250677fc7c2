import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import { DomainError, type DomainErrorCode, unavailable } from '../../src/domain/errors.js';
import {
  ERROR_TABLE,
  INTERNAL_ERROR,
  mappingForHttpStatus,
  PROTOCOL_ERROR_TABLE,
  toPublicError,
  type ErrorLogger,
} from '../../src/transport/error-table.js';

/**
 * README "Using the API" (the error tables): INVALID_ARGUMENT (REST 400), UNAUTHENTICATED (401), NOT_FOUND (404),
 * UNAVAILABLE (503); plus RESOURCE_EXHAUSTED (429) for the bounded number of live nonces per share.
 */
const EXPECTED: Readonly<Record<DomainErrorCode, { grpc: number; http: number }>> = {
  invalid_argument: { grpc: 3, http: 400 },
  unauthenticated: { grpc: 16, http: 401 },
  not_found: { grpc: 5, http: 404 },
  resource_exhausted: { grpc: 8, http: 429 },
  unavailable: { grpc: 14, http: 503 },
};

interface LogEntry {
  readonly level: 'warn' | 'error';
  readonly object: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(): ErrorLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    warn: (object, message) => entries.push({ level: 'warn', object: object as Record<string, unknown>, message }),
    error: (object, message) => entries.push({ level: 'error', object: object as Record<string, unknown>, message }),
  };
}

const SQL_ERROR_TEXT =
  "ER_NO_SUCH_TABLE: Table 'cdoc2.key_capsules' doesn't exist: select `recipient_id` from `key_capsules` where `transaction_id` = 'KC00'";

describe('error table', () => {
  it('maps exactly the five domain error codes', () => {
    expect(Object.keys(ERROR_TABLE).sort()).to.deep.equal(Object.keys(EXPECTED).sort());
  });

  for (const [code, expected] of Object.entries(EXPECTED) as Array<[DomainErrorCode, { grpc: number; http: number }]>) {
    it(`maps ${code} to gRPC ${GrpcStatus[expected.grpc]} and HTTP ${expected.http}`, () => {
      expect(ERROR_TABLE[code].grpc).to.equal(expected.grpc);
      expect(ERROR_TABLE[code].http).to.equal(expected.http);
      expect(ERROR_TABLE[code].title).to.be.a('string').and.not.equal('');
    });
  }

  it('uses the standard gRPC codes by name', () => {
    expect(ERROR_TABLE.invalid_argument.grpc).to.equal(GrpcStatus.INVALID_ARGUMENT);
    expect(ERROR_TABLE.unauthenticated.grpc).to.equal(GrpcStatus.UNAUTHENTICATED);
    expect(ERROR_TABLE.not_found.grpc).to.equal(GrpcStatus.NOT_FOUND);
    expect(ERROR_TABLE.unavailable.grpc).to.equal(GrpcStatus.UNAVAILABLE);
  });

  it('maps internal errors to gRPC INTERNAL and HTTP 500', () => {
    expect(INTERNAL_ERROR.grpc).to.equal(GrpcStatus.INTERNAL);
    expect(INTERNAL_ERROR.grpc).to.equal(13);
    expect(INTERNAL_ERROR.http).to.equal(500);
  });
});

describe('protocol error table (failures before any operation runs)', () => {
  it('maps each to its HTTP status and the gRPC status of the same condition', () => {
    const table = Object.fromEntries(
      Object.entries(PROTOCOL_ERROR_TABLE).map(([code, mapping]) => [code, [mapping.http, GrpcStatus[mapping.grpc]]]),
    );
    expect(table).to.deep.equal({
      method_not_allowed: [405, 'UNIMPLEMENTED'],
      content_too_large: [413, 'RESOURCE_EXHAUSTED'],
      unsupported_media_type: [415, 'INVALID_ARGUMENT'],
      header_fields_too_large: [431, 'RESOURCE_EXHAUSTED'],
      request_timeout: [408, 'DEADLINE_EXCEEDED'],
    });
  });

  it('finds the mapping of a library-chosen HTTP status, and reads an unnamed 4xx as a bad request', () => {
    expect(mappingForHttpStatus(413)).to.equal(PROTOCOL_ERROR_TABLE.content_too_large);
    expect(mappingForHttpStatus(404)).to.equal(ERROR_TABLE.not_found);
    expect(mappingForHttpStatus(418)).to.equal(ERROR_TABLE.invalid_argument);
  });
});

describe('toPublicError', () => {
  for (const code of Object.keys(EXPECTED) as DomainErrorCode[]) {
    it(`passes a DomainError of code ${code} through with its own message and mapping`, () => {
      const logger = recordingLogger();
      const result = toPublicError(new DomainError(code, `a ${code} problem`), logger, {});
      expect(result.mapping).to.equal(ERROR_TABLE[code]);
      expect(result.message).to.equal(`a ${code} problem`);
    });
  }

  it('does not log invalid_argument, unauthenticated or not_found errors', () => {
    const logger = recordingLogger();
    for (const code of ['invalid_argument', 'unauthenticated', 'not_found'] as const) {
      toPublicError(new DomainError(code, 'client problem'), logger, {});
    }
    expect(logger.entries).to.deep.equal([]);
  });

  it('logs an unavailable error as a warning with its cause and the context, and answers only its message', () => {
    const logger = recordingLogger();
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:3306');
    const result = toPublicError(unavailable('the database is unavailable', cause), logger, { rpc: 'GetKeyCapsule' });
    expect(result.mapping.http).to.equal(503);
    expect(result.message).to.equal('the database is unavailable');
    expect(logger.entries).to.have.length(1);
    const [entry] = logger.entries;
    expect(entry?.level).to.equal('warn');
    expect(entry?.object['err']).to.equal(cause);
    expect(entry?.object['rpc']).to.equal('GetKeyCapsule');
  });

  describe('with an error that is not a DomainError', () => {
    it('answers INTERNAL / 500 with a log reference and none of the SQL', () => {
      const logger = recordingLogger();
      const result = toPublicError(new Error(SQL_ERROR_TEXT), logger, {});
      expect(result.mapping).to.equal(INTERNAL_ERROR);
      expect(result.mapping.grpc).to.equal(GrpcStatus.INTERNAL);
      expect(result.mapping.http).to.equal(500);
      expect(result.message).to.match(/^internal error \(log reference [0-9a-f]{16}\)$/);
      for (const fragment of ['ER_NO_SUCH_TABLE', 'key_capsules', 'select', 'transaction_id', 'KC00', 'cdoc2.']) {
        expect(result.message).not.to.include(fragment);
      }
    });

    it('logs the original error under the same reference, with the context', () => {
      const logger = recordingLogger();
      const original = new Error(SQL_ERROR_TEXT);
      const result = toPublicError(original, logger, { method: 'POST', url: '/key-capsules' });
      expect(logger.entries).to.have.length(1);
      const [entry] = logger.entries;
      expect(entry?.level).to.equal('error');
      expect(entry?.object['err']).to.equal(original);
      expect(entry?.object['method']).to.equal('POST');
      expect(entry?.object['url']).to.equal('/key-capsules');
      const reference = entry?.object['reference'];
      expect(reference)
        .to.be.a('string')
        .and.match(/^[0-9a-f]{16}$/);
      expect(result.message).to.include(String(reference));
    });

    it('draws a fresh reference for each error', () => {
      const logger = recordingLogger();
      const references = new Set(
        Array.from({ length: 20 }, () => toPublicError(new Error('boom'), logger, {}).message),
      );
      expect(references.size).to.equal(20);
    });

    it('treats thrown non-Error values (a string, undefined) as internal too', () => {
      const logger = recordingLogger();
      expect(toPublicError('SELECT 1', logger, {}).mapping).to.equal(INTERNAL_ERROR);
      expect(toPublicError(undefined, logger, {}).mapping).to.equal(INTERNAL_ERROR);
      expect(logger.entries.map((entry) => entry.object['err'])).to.deep.equal(['SELECT 1', undefined]);
    });

    it('treats an object that merely looks like a DomainError as internal', () => {
      const logger = recordingLogger();
      const impostor = { name: 'DomainError', code: 'not_found', message: 'select * from key_capsules' };
      const result = toPublicError(impostor, logger, {});
      expect(result.mapping).to.equal(INTERNAL_ERROR);
      expect(result.message).not.to.include('select');
    });
  });
});
