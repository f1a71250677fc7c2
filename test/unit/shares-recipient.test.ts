import { expect } from 'chai';
import { checkRecipient, RECIPIENT_MAX_LENGTH, RECIPIENT_MIN_LENGTH } from '../../src/domain/shares/key-share.js';

const FORMAT = /etsi\/<PNO\|IDC\|PAS><country>-<identifier>/;
const LENGTH = /must be 12 to 32 characters/;

describe('key share recipient identifiers (checkRecipient)', () => {
  it('has the OpenAPI bounds 12..32', () => {
    expect([RECIPIENT_MIN_LENGTH, RECIPIENT_MAX_LENGTH]).to.deep.equal([12, 32]);
  });

  const accepted = [
    'etsi/PNOEE-48010010101',
    'etsi/PNOEE-30303039914',
    'etsi/IDCLV-123456',
    'etsi/PASFI-AB1234567',
    'etsi/PNOLT-1',
    'private/JIO/70000349',
    // At the bounds: 12 and 32 characters; a 20-character identifier.
    'private/J/12',
    'etsi/PNOEE-12345678901234567890',
    'private/ABCDEFGHIJ/1234567890123',
  ];
  for (const recipient of accepted) {
    it(`accepts ${recipient} (${recipient.length} characters)`, () => {
      expect(checkRecipient(recipient)).to.equal(undefined);
    });
  }

  const refused: Array<[string, string, RegExp]> = [
    ['a wrong prefix', 'eidas/PNOEE-48010010101', FORMAT],
    ['an upper-case prefix', 'ETSI/PNOEE-48010010101', FORMAT],
    ['no prefix', 'PNOEE-48010010101', FORMAT],
    ['a lower-case type', 'etsi/pnoEE-48010010101', FORMAT],
    ['a lower-case country', 'etsi/PNOee-48010010101', FORMAT],
    ['an unknown type (XYZ)', 'etsi/XYZEE-48010010101', FORMAT],
    ['a 3-letter country', 'etsi/PNOEST-48010010101', FORMAT],
    ['a 1-letter country', 'etsi/PNOE-48010010101', FORMAT],
    ['a missing "-"', 'etsi/PNOEE48010010101', FORMAT],
    ['an empty identifier', 'etsi/PNOEE-', LENGTH],
    ['an empty identifier (long enough)', 'etsi/PASFIN-', FORMAT],
    ['an identifier over 20 characters (32 in all)', 'etsi/PNOEE-123456789012345678901', FORMAT],
    ['private without vendor', 'private//70000349', FORMAT],
    ['private without vendor and separator', 'private/70000349', FORMAT],
    ['private without identifier', 'private/JIO/', FORMAT],
    ['a private identifier over 20 characters', 'private/J/123456789012345678901', FORMAT],
    ['too short (11 characters, otherwise well-formed)', 'private/J/1', LENGTH],
    ['too long (33 characters, otherwise well-formed)', 'private/ABCDEFGHIJ/12345678901234', LENGTH],
    ['too long (a 40-character private identifier)', 'private/ABCDEFGHIJK/12345678901234567890', LENGTH],
    ['the empty string', '', LENGTH],
    ['a space inside', 'etsi/PNOEE-4801 0010101', FORMAT],
    ['a leading space', ' etsi/PNOEE-48010010101', FORMAT],
    ['a trailing space', 'etsi/PNOEE-48010010101 ', FORMAT],
    ['a trailing newline', 'etsi/PNOEE-48010010101\n', FORMAT],
    ['a slash in the identifier', 'private/JIO/7000/0349', FORMAT],
    ['a non-ASCII letter', 'etsi/PNOEE-4801001010ä', FORMAT],
  ];
  for (const [what, recipient, reason] of refused) {
    it(`refuses ${what}`, () => {
      const problem = checkRecipient(recipient);
      expect(problem).to.be.a('string');
      expect(problem).to.match(reason);
    });
  }

  it('reports the length it got', () => {
    expect(checkRecipient('private/J/1')).to.equal('must be 12 to 32 characters, got 11');
  });
});
