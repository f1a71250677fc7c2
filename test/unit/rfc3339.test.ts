import { expect } from 'chai';
import { parseRfc3339 } from '../../src/domain/rfc3339.js';

const iso = (text: string): string => {
  const date = parseRfc3339(text);
  if (date === undefined) {
    throw new Error(`refused ${text}`);
  }
  return date.toISOString();
};

describe('parseRfc3339', () => {
  const accepted: ReadonlyArray<[string, string]> = [
    ['2026-03-15T10:20:30Z', '2026-03-15T10:20:30.000Z'],
    ['2026-03-15t10:20:30z', '2026-03-15T10:20:30.000Z'],
    ['2026-03-15T10:20:30+00:00', '2026-03-15T10:20:30.000Z'],
    ['2026-03-15T10:20:30-00:00', '2026-03-15T10:20:30.000Z'],
    ['2026-03-15T12:20:30+02:00', '2026-03-15T10:20:30.000Z'],
    ['2026-03-15T05:50:30-04:30', '2026-03-15T10:20:30.000Z'],
    ['2026-03-16T09:50:30+23:30', '2026-03-15T10:20:30.000Z'],
    ['2026-01-01T01:00:00+05:45', '2025-12-31T19:15:00.000Z'],
    ['2025-12-31T23:00:00-01:00', '2026-01-01T00:00:00.000Z'],
    ['2026-03-15T10:20:30.5Z', '2026-03-15T10:20:30.500Z'],
    ['2026-03-15T10:20:30.123Z', '2026-03-15T10:20:30.123Z'],
    ['2026-03-15T10:20:30.123999999Z', '2026-03-15T10:20:30.123Z'],
    ['2026-03-15T10:20:30.001+01:00', '2026-03-15T09:20:30.001Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2000-02-29T23:59:59Z', '2000-02-29T23:59:59.000Z'],
    ['2026-12-31T23:59:60Z', '2027-01-01T00:00:00.000Z'],
  ];
  for (const [text, expected] of accepted) {
    it(`reads ${text} as ${expected}`, () => {
      expect(iso(text)).to.equal(expected);
    });
  }

  it('reads every millisecond fraction exactly (no floating-point rounding down)', () => {
    for (let ms = 0; ms < 1000; ms++) {
      const fraction = String(ms).padStart(3, '0');
      expect(parseRfc3339(`2026-03-15T10:20:30.${fraction}Z`)?.getUTCMilliseconds(), fraction).to.equal(ms);
    }
  });

  const refused: ReadonlyArray<[string, string]> = [
    ['February 30', '2026-02-30T00:00:00Z'],
    ['February 29 of a common year', '2026-02-29T00:00:00Z'],
    ['February 29 of 1900', '1900-02-29T00:00:00Z'],
    ['April 31', '2026-04-31T00:00:00Z'],
    ['day 0', '2026-03-00T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['month 0', '2026-00-01T00:00:00Z'],
    ['hour 24', '2026-03-15T24:00:00Z'],
    ['minute 60', '2026-03-15T10:60:00Z'],
    ['second 61', '2026-03-15T10:20:61Z'],
    ['offset hour 24', '2026-03-15T10:20:30+24:00'],
    ['offset minute 60', '2026-03-15T10:20:30+01:60'],
    ['a missing zone', '2026-03-15T10:20:30'],
    ['a date only', '2026-03-15'],
    ['a space separator', '2026-03-15 10:20:30Z'],
    ['an offset without a colon', '2026-03-15T10:20:30+0200'],
    ['an hour-only offset', '2026-03-15T10:20:30+02'],
    ['a missing seconds field', '2026-03-15T10:20Z'],
    ['an empty fraction', '2026-03-15T10:20:30.Z'],
    ['a ten-digit fraction', '2026-03-15T10:20:30.1234567890Z'],
    ['a comma fraction', '2026-03-15T10:20:30,5Z'],
    ['single-digit fields', '2026-3-5T1:2:3Z'],
    ['a five-digit year', '12026-03-15T10:20:30Z'],
    ['a zone name', '2026-03-15T10:20:30 UTC'],
    ['surrounding whitespace', ' 2026-03-15T10:20:30Z '],
    ['a trailing newline', '2026-03-15T10:20:30Z\n'],
    ['an HTTP date', 'Sun, 15 Mar 2026 10:20:30 GMT'],
    ['milliseconds since the epoch', '1773570030000'],
    ['garbage', 'tomorrow'],
    ['the empty string', ''],
  ];
  for (const [what, text] of refused) {
    it(`refuses ${what} (${JSON.stringify(text)})`, () => {
      expect(parseRfc3339(text)).to.equal(undefined);
    });
  }

  it('reads a year below 100 as that year, not as 19xx', () => {
    expect(iso('0050-01-01T00:00:00Z')).to.equal('0050-01-01T00:00:00.000Z');
  });
});
