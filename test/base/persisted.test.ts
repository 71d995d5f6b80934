import { describe, expect, it } from 'vitest';
import { counterFileStore } from '../../src/base/persisted.js';
import { Rng } from '../../src/base/rng.js';
import { ShoalError } from '../../src/base/errors.js';
import { term, type Term } from '../../src/base/units.js';
import { SimStorage } from '../../src/sim/storage.js';

const store = counterFileStore<Term, { term: Term }>('election/t', 'term', term, (r) => r.term);

function storageWith(text: string | undefined): SimStorage {
  const storage = new SimStorage({ rng: new Rng(1) });
  if (text !== undefined) storage.writeFile('election/t', new TextEncoder().encode(text));
  return storage;
}

describe('counterFileStore', () => {
  it('an absent file is 0; what write produces is read back', () => {
    expect(store.load(storageWith(undefined))).toBe(0);
    const written = store.write({ term: term(9_007_199_254_740_991) });
    expect(written.path).toBe('election/t');
    expect(new TextDecoder().decode(written.data)).toBe('9007199254740991\n');
    expect(store.load(storageWith(new TextDecoder().decode(written.data)))).toBe(
      9_007_199_254_740_991,
    );
  });

  it('reads files written before the trailing newline (decimal text alone)', () => {
    expect(store.load(storageWith('41'))).toBe(41);
  });

  it.each(['', '-1', '07', '1e3', ' 4', '9007199254740992', 'x'])(
    'refuses %j with ERR_STORAGE_CORRUPT naming the file',
    (text) => {
      let error: unknown;
      try {
        store.load(storageWith(text));
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ShoalError);
      expect((error as ShoalError).code).toBe('ERR_STORAGE_CORRUPT');
      expect((error as ShoalError).message).toContain('election/t');
    },
  );
});
