import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import { decodeBase64Field } from '../../src/transport/rest/base64.js';

const refusal = (text: string, field = 'recipient_id'): DomainError => {
  try {
    decodeBase64Field(field, text);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error(`${JSON.stringify(text)} was accepted`);
};

const bytes = (text: string): number[] => Array.from(decodeBase64Field('recipient_id', text));

describe('decodeBase64Field', () => {
  it('decodes padded standard base64 (no padding, one "=", two "=")', () => {
    expect(bytes('AAEC')).to.deep.equal([0, 1, 2]);
    expect(bytes('AAE=')).to.deep.equal([0, 1]);
    expect(bytes('AA==')).to.deep.equal([0]);
  });

  it('decodes the "+" and "/" characters of the standard alphabet', () => {
    expect(bytes('+/+/')).to.deep.equal([0xfb, 0xff, 0xbf]);
  });

  it('decodes the empty string to no bytes', () => {
    expect(bytes('')).to.deep.equal([]);
  });

  it('round-trips random bytes of every length up to 64', () => {
    for (let length = 0; length <= 64; length++) {
      const original = Buffer.from(Array.from({ length }, (_, i) => (i * 97 + length) % 256));
      const decoded = decodeBase64Field('ephemeral_key_material', original.toString('base64'));
      expect(Buffer.from(decoded).equals(original), `length ${length}`).to.equal(true);
    }
  });

  it('returns a plain Uint8Array', () => {
    expect(decodeBase64Field('recipient_id', 'AAEC')).to.be.instanceOf(Uint8Array);
  });

  const refused: ReadonlyArray<[string, string]> = [
    ['unpadded base64 (one "=" missing)', 'AAE'],
    ['unpadded base64 (two "=" missing)', 'AA'],
    ['the base64url alphabet ("-" and "_")', '-_-_'],
    ['an embedded space', 'AAEC AAEC'],
    ['an embedded newline', 'AAEC\nAAEC'],
    ['a trailing newline', 'AAEC\n'],
    ['a leading space', ' AAEC'],
    ['non-zero padding bits before "=="', 'AB=='],
    ['non-zero padding bits before "="', 'AAF='],
    ['too much padding', 'AA==='],
    ['padding in the middle', 'AA==AA=='],
    ['a stray character', 'AAEC*'],
    ['a lone character', 'A'],
    ['non-ASCII characters', 'AAÉC'],
  ];
  for (const [what, text] of refused) {
    it(`refuses ${what} as invalid_argument naming the field`, () => {
      const error = refusal(text);
      expect(error.code).to.equal('invalid_argument');
      expect(error.message).to.equal('recipient_id is not canonical padded base64');
    });
  }

  it('names whichever field it is given', () => {
    expect(refusal('AB==', 'ephemeral_key_material').message).to.equal(
      'ephemeral_key_material is not canonical padded base64',
    );
  });

  it('does not echo the text in its message', () => {
    expect(refusal('QUJDREVGR0hJSktMTU5PUA').message).not.to.include('QUJDREVGR0hJSktMTU5PUA');
  });
});
