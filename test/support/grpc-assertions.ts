import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { rejectionOf } from './rejections.js';

/** Expects the call to fail with `code`; returns the error for further checks. */
export async function expectGrpcStatus(promise: Promise<unknown>, code: status): Promise<ServiceError> {
  const serviceError = (await rejectionOf(promise)) as ServiceError;
  expect(status[serviceError.code], serviceError.details).to.equal(status[code]);
  return serviceError;
}
