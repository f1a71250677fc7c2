/**
 * A bounded map that forgets the least recently used entry first: the caches of verified certificates, OCSP
 * answers and derived identities must not grow with the number of distinct clients.
 */
export class LruCache<K, V> {
  /** Map iteration order is insertion order, so re-inserting on use keeps the least recently used first. */
  readonly #entries = new Map<K, V>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    if (this.maxEntries <= 0) {
      return;
    }
    this.#entries.set(key, value);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) {
        this.#entries.delete(oldest.value);
      }
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }
}
