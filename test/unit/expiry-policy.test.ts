import { expect } from 'chai';
import { resolveExpiry, type ExpiryPolicy } from '../../src/domain/expiry-policy.js';
import { DomainError } from '../../src/domain/errors.js';

const DAY = 86_400_000;
const NOW = new Date('2026-03-15T10:20:30.456Z');
const POLICY: ExpiryPolicy = { defaultMs: 1095 * DAY, maxMs: 1825 * DAY };

const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);

const refusal = (requested: Date): DomainError => {
  try {
    resolveExpiry(NOW, requested, POLICY);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('the requested expiry was accepted');
};

describe('resolveExpiry', () => {
  it('applies now + default when no expiry is requested, not adjusted', () => {
    const result = resolveExpiry(NOW, undefined, POLICY);
    expect(result.expiryTime.toISOString()).to.equal('2029-03-14T10:20:30.456Z');
    expect(result.expiryTime.getTime()).to.equal(NOW.getTime() + 1095 * DAY);
    expect(result.expiryTimeAdjusted).to.equal(false);
  });

  it('keeps a requested expiry within the maximum exactly, not adjusted', () => {
    const requested = new Date('2026-04-01T00:00:00.001Z');
    const result = resolveExpiry(NOW, requested, POLICY);
    expect(result.expiryTime.getTime()).to.equal(requested.getTime());
    expect(result.expiryTimeAdjusted).to.equal(false);
  });

  it('keeps a request one millisecond after now', () => {
    const result = resolveExpiry(NOW, at(1), POLICY);
    expect(result).to.deep.equal({ expiryTime: at(1), expiryTimeAdjusted: false });
  });

  it('keeps a request of exactly now + max, not adjusted', () => {
    const result = resolveExpiry(NOW, at(POLICY.maxMs), POLICY);
    expect(result).to.deep.equal({ expiryTime: at(POLICY.maxMs), expiryTimeAdjusted: false });
  });

  it('clamps a request one millisecond beyond the maximum to now + max, adjusted', () => {
    const result = resolveExpiry(NOW, at(POLICY.maxMs + 1), POLICY);
    expect(result).to.deep.equal({ expiryTime: at(POLICY.maxMs), expiryTimeAdjusted: true });
  });

  it('clamps a request far beyond the maximum to now + max, adjusted', () => {
    const result = resolveExpiry(NOW, new Date('9999-12-31T23:59:59Z'), POLICY);
    expect(result.expiryTime.toISOString()).to.equal('2031-03-14T10:20:30.456Z');
    expect(result.expiryTimeAdjusted).to.equal(true);
  });

  it('returns a new Date, not the caller’s object', () => {
    const requested = at(DAY);
    const result = resolveExpiry(NOW, requested, POLICY);
    expect(result.expiryTime).not.to.equal(requested);
    requested.setTime(0);
    expect(result.expiryTime.getTime()).to.equal(NOW.getTime() + DAY);
  });

  it('refuses a request equal to now', () => {
    const error = refusal(new Date(NOW.getTime()));
    expect(error.code).to.equal('invalid_argument');
    expect(error.message).to.equal('the requested expiry time 2026-03-15T10:20:30.456Z is not in the future');
  });

  it('refuses a request in the past', () => {
    const error = refusal(at(-1));
    expect(error.code).to.equal('invalid_argument');
    expect(error.message).to.include('is not in the future');
    expect(refusal(new Date('1970-01-01T00:00:00Z')).code).to.equal('invalid_argument');
  });

  it('refuses an invalid Date', () => {
    const error = refusal(new Date('not a date'));
    expect(error.code).to.equal('invalid_argument');
    expect(error.message).to.equal('the requested expiry time is not a valid instant');
  });

  it('follows the injected now, not the system clock', () => {
    const past = new Date('2001-01-01T00:00:00Z');
    const result = resolveExpiry(past, undefined, { defaultMs: DAY, maxMs: DAY });
    expect(result.expiryTime.toISOString()).to.equal('2001-01-02T00:00:00.000Z');
  });
});
