import { randomFillSync } from 'node:crypto';
import { expect } from 'chai';
import { createPooledRandom, toHex } from '../../src/domain/random.js';

describe('createPooledRandom', () => {
  it('hands out consecutive slices of one fill, and fills again only when the pool is used up', () => {
    let fills = 0;
    let counter = 0;
    const random = createPooledRandom((buffer) => {
      fills++;
      for (let i = 0; i < buffer.length; i++) {
        buffer[i] = counter++ & 0xff;
      }
    }, 32);
    expect(Array.from(random.bytes(16))).to.deep.equal(Array.from({ length: 16 }, (_, i) => i));
    expect(Array.from(random.bytes(16))).to.deep.equal(Array.from({ length: 16 }, (_, i) => 16 + i));
    expect(fills).to.equal(1);
    expect(Array.from(random.bytes(4))).to.deep.equal([32, 33, 34, 35]);
    expect(fills).to.equal(2);
  });

  it('never hands out the same bytes twice (10,000 ids of 16 bytes from node:crypto are distinct)', () => {
    const random = createPooledRandom((buffer) => randomFillSync(buffer));
    const ids = new Set(Array.from({ length: 10_000 }, () => toHex(random.bytes(16))));
    expect(ids.size).to.equal(10_000);
  });

  it('returns copies: changing a returned array changes neither the pool nor later results', () => {
    const random = createPooledRandom((buffer) => buffer.fill(7), 8);
    const first = random.bytes(4);
    first.fill(0);
    expect(Array.from(random.bytes(4))).to.deep.equal([7, 7, 7, 7]);
  });

  it('serves a request larger than the pool straight from the source', () => {
    const lengths: number[] = [];
    const random = createPooledRandom((buffer) => {
      lengths.push(buffer.length);
      buffer.fill(1);
    }, 8);
    expect(random.bytes(20)).to.have.length(20);
    expect(lengths).to.deep.equal([20]);
  });
});

describe('toHex', () => {
  it('writes two lowercase digits per byte, leading zeros kept', () => {
    expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).to.equal('0001abff');
    expect(toHex(new Uint8Array([]))).to.equal('');
  });
});
