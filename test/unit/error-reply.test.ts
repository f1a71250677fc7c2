import { expect } from 'chai';
import { acceptsProblemJson } from '../../src/transport/rest/error-reply.js';

describe('REST error body negotiation (Accept)', () => {
  const asks = [
    'application/problem+json',
    'Application/Problem+JSON',
    'application/json, application/problem+json;q=0.5',
    'application/problem+json; q=1.0',
    'text/html,application/problem+json ; charset=utf-8',
  ];
  for (const accept of asks) {
    it(`sends problem details for Accept: ${accept}`, () => {
      expect(acceptsProblemJson(accept)).to.equal(true);
    });
  }
  it('sends problem details when one of several Accept headers names it', () => {
    expect(acceptsProblemJson(['application/json', 'application/problem+json'])).to.equal(true);
  });

  const doesNotAsk = [
    undefined,
    '',
    '*/*',
    'application/*',
    'application/json',
    'application/problem+json;q=0',
    'application/problem+json;q=0.000',
    'application/problem+jsonx',
    'application/problem+xml',
  ];
  for (const accept of doesNotAsk) {
    it(`keeps the body empty for Accept: ${String(accept)}`, () => {
      expect(acceptsProblemJson(accept)).to.equal(false);
    });
  }
});
