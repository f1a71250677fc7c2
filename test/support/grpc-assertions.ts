import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';

/** Expects the call to fail with `code`; returns the error for further checks. */
export async function expectGrpcStatus(promise: Promise<unknown>, code: status): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    const serviceError = error as ServiceError;
    expect(status[serviceError.code], serviceError.details).to.equal(status[code]);
    return serviceError;
  }
  throw new Error(`expected ${status[code]}, but the call succeeded`);
}
