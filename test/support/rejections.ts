import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';

/** What `promise` rejects with; fails the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return expect.fail('expected a rejection, but the call succeeded');
}

/** The DomainError `promise` must reject with. */
export async function domainRejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await rejectionOf(promise);
  expect(error).to.be.instanceOf(DomainError);
  return error as DomainError;
}
