import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import { parseRsaPublicKey, type RsaPublicKeyInfo } from '../../src/domain/rsa-public-key.js';
import {
  derInteger,
  derIntegerRaw,
  derSequence,
  derTlv,
  fromBigInt,
  pkcs1Der,
  randomModulus,
  realRsaPkcs1,
  toBigInt,
} from '../fixtures/keys.js';

const accepted = (der: Uint8Array): RsaPublicKeyInfo => {
  const result = parseRsaPublicKey(der);
  if ('error' in result) {
    throw new Error(`refused: ${result.error}`);
  }
  return result;
};

const refusal = (der: Uint8Array): string => {
  const result = parseRsaPublicKey(der);
  if (!('error' in result)) {
    throw new Error(`accepted as a ${result.modulusBits}-bit key`);
  }
  return result.error;
};

const NOT_PKCS1_INTEGERS = 'is not a PKCS#1 RSAPublicKey (modulus and exponent must be positive DER INTEGERs)';
const NOT_PKCS1_SEQUENCE = 'is not a PKCS#1 RSAPublicKey (SEQUENCE of modulus and exponent)';
const BAD_EXPONENT = 'is not a valid RSA key (the exponent must be odd, greater than 1 and less than the modulus)';

/** The content bytes of the minimal INTEGER encoding of a 2048-bit modulus: 0x00 || n (257 bytes). */
const modulusContent = (n: bigint): Buffer => {
  const content = Buffer.concat([Buffer.from([0x00]), fromBigInt(n, 256)]);
  expect(derInteger(n).subarray(4).equals(content), 'the helper agrees with derInteger').to.equal(true);
  return content;
};

describe('parseRsaPublicKey', () => {
  describe('real keys from node:crypto', () => {
    for (const bits of [2048, 3072, 4096]) {
      it(`accepts a ${bits}-bit key exported as PKCS#1 DER`, () => {
        expect(accepted(realRsaPkcs1(bits))).to.deep.equal({ modulusBits: bits });
      });
    }

    it('refuses a 1024-bit key', () => {
      expect(refusal(realRsaPkcs1(1024))).to.equal('is a 1024-bit RSA key; 2048 to 16384 bits are accepted');
    });

    it('refuses the SubjectPublicKeyInfo (spki) DER of an otherwise acceptable key', () => {
      const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      expect(refusal(spki)).to.match(/^is not a PKCS#1 RSAPublicKey/);
    });

    it("builds PKCS#1 exactly as node:crypto does (the test helper's DER is right)", () => {
      const publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      const jwk = publicKey.export({ format: 'jwk' });
      const n = toBigInt(Buffer.from(jwk.n ?? '', 'base64url'));
      const e = toBigInt(Buffer.from(jwk.e ?? '', 'base64url'));
      expect(pkcs1Der(n, e).equals(publicKey.export({ type: 'pkcs1', format: 'der' }))).to.equal(true);
    });
  });

  describe('large keys built by hand', () => {
    it('accepts an 8192-bit key, whose DER is exactly 1038 bytes', () => {
      const der = pkcs1Der(randomModulus(8192));
      expect(der).to.have.length(1038);
      expect(accepted(der)).to.deep.equal({ modulusBits: 8192 });
    });

    it('accepts a 16384-bit key, whose DER is exactly 2062 bytes', () => {
      const der = pkcs1Der(randomModulus(16384));
      expect(der).to.have.length(2062);
      expect(accepted(der)).to.deep.equal({ modulusBits: 16384 });
    });

    it('accepts exactly 2048 bits and refuses 2047 bits', () => {
      expect(accepted(pkcs1Der(randomModulus(2048)))).to.deep.equal({ modulusBits: 2048 });
      expect(refusal(pkcs1Der(randomModulus(2047)))).to.equal('is a 2047-bit RSA key; 2048 to 16384 bits are accepted');
    });

    for (const bits of [16385, 16392, 20000]) {
      it(`refuses a ${bits}-bit modulus`, () => {
        expect(refusal(pkcs1Der(randomModulus(bits)))).to.equal(
          `is a ${bits}-bit RSA key; 2048 to 16384 bits are accepted`,
        );
      });
    }
  });

  describe('malformed DER', () => {
    it('refuses empty input', () => {
      expect(refusal(new Uint8Array(0))).to.equal('is not valid DER');
    });

    it('refuses garbage bytes', () => {
      expect(refusal(Buffer.from('this is not a key at all', 'utf8'))).to.equal('is not valid DER');
      expect(refusal(Buffer.alloc(300, 0xff))).to.equal('is not valid DER');
    });

    it('refuses a trailing byte after the SEQUENCE', () => {
      const der = Buffer.concat([pkcs1Der(randomModulus(2048)), Buffer.from([0x00])]);
      expect(refusal(der)).to.equal('is not valid DER');
    });

    it('refuses a truncated SEQUENCE', () => {
      const der = pkcs1Der(randomModulus(2048));
      expect(refusal(der.subarray(0, der.length - 1))).to.equal('is not valid DER');
    });

    it('refuses a long-form length where the short form suffices (the exponent as 02 81 03 01 00 01)', () => {
      const n = randomModulus(2048);
      const longFormExponent = Buffer.from([0x02, 0x81, 0x03, 0x01, 0x00, 0x01]);
      expect(refusal(derSequence(derInteger(n), longFormExponent))).to.equal('is not canonical DER');
    });

    it('refuses a long form with more length bytes than needed (SEQUENCE length as 83 00 01 0a)', () => {
      const der = pkcs1Der(randomModulus(2048));
      // Canonical: 30 82 01 0a; the same length in three bytes is not DER.
      expect(der.subarray(0, 4).toString('hex')).to.equal('3082010a');
      const padded = Buffer.concat([Buffer.from([0x30, 0x83, 0x00, 0x01, 0x0a]), der.subarray(4)]);
      expect(refusal(padded)).to.equal('is not canonical DER');
    });

    it('refuses the indefinite length form (0x80)', () => {
      const der = pkcs1Der(randomModulus(2048));
      const indefinite = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(4), Buffer.from([0x00, 0x00])]);
      expect(refusal(indefinite)).to.match(/^is not (valid|canonical) DER$/);
    });

    it('refuses a SET instead of a SEQUENCE', () => {
      const n = randomModulus(2048);
      expect(refusal(derTlv(0x31, Buffer.concat([derInteger(n), derInteger(65537n)])))).to.equal(NOT_PKCS1_SEQUENCE);
    });
  });

  describe('structure and integers', () => {
    it('refuses a SEQUENCE of three INTEGERs', () => {
      const n = randomModulus(2048);
      expect(refusal(derSequence(derInteger(n), derInteger(65537n), derInteger(3n)))).to.equal(NOT_PKCS1_SEQUENCE);
    });

    it('refuses a SEQUENCE of one INTEGER', () => {
      expect(refusal(derSequence(derInteger(randomModulus(2048))))).to.equal(NOT_PKCS1_SEQUENCE);
    });

    it('refuses a bare INTEGER', () => {
      expect(refusal(derInteger(randomModulus(2048)))).to.equal(NOT_PKCS1_SEQUENCE);
    });

    it('refuses a modulus given as an OCTET STRING', () => {
      const n = randomModulus(2048);
      expect(refusal(derSequence(derTlv(0x04, modulusContent(n)), derInteger(65537n)))).to.equal(NOT_PKCS1_INTEGERS);
    });

    it('refuses a negative modulus (top bit set without the 0x00 sign byte)', () => {
      const n = randomModulus(2048);
      // A first byte of 0xFF followed by a byte with its high bit set would be a non-minimal negative INTEGER
      // (refused as non-canonical DER instead); 0xC5 keeps this case about the sign alone.
      const content = Buffer.from(modulusContent(n).subarray(1));
      content[0] = 0xc5;
      const negative = derIntegerRaw(content);
      expect(negative[4]).to.be.at.least(0x80);
      expect(refusal(derSequence(negative, derInteger(65537n)))).to.equal(NOT_PKCS1_INTEGERS);
    });

    it('refuses a non-minimal modulus INTEGER (an extra leading 0x00)', () => {
      const n = randomModulus(2048);
      const padded = derIntegerRaw(Buffer.concat([Buffer.from([0x00]), modulusContent(n)]));
      // Caught by the DER re-encoding check (node-forge drops the redundant zero) or by the integer check.
      expect(refusal(derSequence(padded, derInteger(65537n)))).to.be.oneOf([
        'is not canonical DER',
        NOT_PKCS1_INTEGERS,
      ]);
    });

    it('refuses a non-minimal exponent INTEGER (00 01 00 01)', () => {
      const n = randomModulus(2048);
      const padded = derIntegerRaw(Buffer.from([0x00, 0x01, 0x00, 0x01]));
      expect(refusal(derSequence(derInteger(n), padded))).to.be.oneOf(['is not canonical DER', NOT_PKCS1_INTEGERS]);
    });

    it('refuses an empty INTEGER', () => {
      const n = randomModulus(2048);
      expect(refusal(derSequence(derInteger(n), derIntegerRaw(Buffer.alloc(0))))).to.equal(NOT_PKCS1_INTEGERS);
    });

    it('refuses an even modulus', () => {
      const n = randomModulus(2048) - 1n;
      expect(refusal(pkcs1Der(n))).to.equal('is not a valid RSA key (even modulus)');
    });

    it('refuses the exponent 1', () => {
      expect(refusal(pkcs1Der(randomModulus(2048), 1n))).to.equal(BAD_EXPONENT);
    });

    it('refuses the exponent 0', () => {
      expect(refusal(pkcs1Der(randomModulus(2048), 0n))).to.equal(BAD_EXPONENT);
    });

    it('refuses an even exponent', () => {
      expect(refusal(pkcs1Der(randomModulus(2048), 65536n))).to.equal(BAD_EXPONENT);
    });

    it('refuses an exponent equal to the modulus', () => {
      const n = randomModulus(2048);
      expect(refusal(pkcs1Der(n, n))).to.equal(BAD_EXPONENT);
    });

    it('accepts the exponent 3 and a large odd exponent below the modulus', () => {
      const n = randomModulus(2048);
      expect(accepted(pkcs1Der(n, 3n))).to.deep.equal({ modulusBits: 2048 });
      expect(accepted(pkcs1Der(n, n - 2n))).to.deep.equal({ modulusBits: 2048 });
    });
  });

  it('never echoes the key bytes in its messages', () => {
    const n = randomModulus(2048);
    const inputs = [
      pkcs1Der(randomModulus(1024)),
      pkcs1Der(n - 1n),
      pkcs1Der(n, 1n),
      Buffer.concat([pkcs1Der(n), Buffer.from([0x00])]),
      derSequence(derIntegerRaw(modulusContent(n).subarray(1)), derInteger(65537n)),
    ];
    for (const der of inputs) {
      const message = refusal(der);
      expect(message).not.to.include(der.toString('hex').slice(8, 40));
      expect(message).not.to.include(der.toString('base64').slice(8, 40));
      expect(message).not.to.match(/[0-9a-f]{12,}/i);
    }
  });
});
