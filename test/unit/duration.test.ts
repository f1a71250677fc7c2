import { expect } from 'chai';
import { parseIsoDuration } from '../../src/domain/duration.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const ms = (text: string): number => {
  const result = parseIsoDuration(text);
  if ('error' in result) {
    throw new Error(`refused ${text}: ${result.error}`);
  }
  return result.ms;
};

const refusal = (text: string): string => {
  const result = parseIsoDuration(text);
  if (!('error' in result)) {
    throw new Error(`accepted ${text} as ${result.ms} ms`);
  }
  return result.error;
};

describe('parseIsoDuration', () => {
  const accepted: ReadonlyArray<[string, number]> = [
    ['P1095D', 1095 * DAY],
    ['P1825D', 1825 * DAY],
    ['PT5M', 5 * MINUTE],
    ['PT30S', 30 * SECOND],
    ['PT0.5S', 500],
    ['PT0,25S', 250],
    ['PT1.001S', 1001],
    ['P1W', 7 * DAY],
    ['P1DT2H', DAY + 2 * HOUR],
    ['P2DT3H4M5S', 2 * DAY + 3 * HOUR + 4 * MINUTE + 5 * SECOND],
    ['PT1H', HOUR],
    ['P0D', 0],
  ];
  for (const [text, expected] of accepted) {
    it(`reads ${text} as ${expected} ms`, () => {
      expect(ms(text)).to.equal(expected);
    });
  }

  for (const text of ['P1Y', 'P1M', 'P1Y2D', 'P2M3D']) {
    it(`refuses ${text}, naming years or months as the problem`, () => {
      expect(refusal(text)).to.include('years or months');
    });
  }

  it('reads PT1M as one minute, not one month', () => {
    expect(ms('PT1M')).to.equal(MINUTE);
  });

  for (const text of [
    '',
    'P',
    'PT',
    '5M',
    'P-1D',
    'PT-5M',
    'p1d',
    'P1D ',
    ' P1D',
    'P1.5D',
    'PT0.0001S',
    'P1DT',
    'PT5M1H',
    '1095',
  ]) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(refusal(text)).to.include('is not an ISO 8601 duration');
    });
  }

  it('quotes the text in its message', () => {
    expect(refusal('PT')).to.equal('"PT" is not an ISO 8601 duration such as P1095D, PT5M or PT30S');
  });

  it('refuses a duration too long to count in milliseconds exactly', () => {
    expect(refusal('P999999999999D')).to.equal('"P999999999999D" is too long');
  });
});
