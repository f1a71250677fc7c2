import { IdConflictError } from './errors.js';

const ID_ATTEMPTS = 3;

/**
 * Inserts under a freshly drawn random id, drawing again if the store reports the id as taken. With 128 random
 * bits a collision is not expected in the lifetime of the universe; the primary key, not luck, is what guarantees
 * that nothing is ever overwritten, and this loop only turns that guarantee into a success.
 */
export async function insertWithFreshId(newId: () => string, insert: (id: string) => Promise<void>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const id = newId();
    try {
      await insert(id);
      return id;
    } catch (error) {
      if (!(error instanceof IdConflictError) || attempt >= ID_ATTEMPTS) {
        throw error;
      }
    }
  }
}
