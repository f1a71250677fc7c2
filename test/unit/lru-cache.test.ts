import { expect } from 'chai';
import { LruCache } from '../../src/domain/lru-cache.js';

describe('LruCache', () => {
  it('keeps at most maxEntries, dropping the least recently used first', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).to.equal(1); // a is now the most recently used
    cache.set('c', 3);
    expect(cache.get('b')).to.equal(undefined);
    expect(cache.get('a')).to.equal(1);
    expect(cache.get('c')).to.equal(3);
    expect(cache.size).to.equal(2);
  });

  it('replaces a value set again under the same key without growing', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('a', 2);
    expect(cache.get('a')).to.equal(2);
    expect(cache.size).to.equal(1);
  });

  it('remembers nothing with a size of 0, and forgets a deleted key', () => {
    const none = new LruCache<string, number>(0);
    none.set('a', 1);
    expect(none.get('a')).to.equal(undefined);
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.delete('a');
    expect(cache.get('a')).to.equal(undefined);
  });
});
