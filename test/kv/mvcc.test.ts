/**
 * Table tests of the MVCC helpers the design doc's rules name: `keptFrom` (what compaction keeps,
 * etcd key_index.go compact) and `lastAtOrBelow` (the record a read at a revision sees).
 */
import { describe, expect, it } from 'vitest';
import { keptFrom, lastAtOrBelow, type KvRecord } from '../../src/kv/mvcc.js';
import { revision } from '../../src/kv/types.js';

/** A history from a compact notation: "2 3 4t 6" = puts at 2 and 3, a tombstone at 4, a put at 6. */
function history(text: string): KvRecord[] {
  return text.split(' ').map((item) => {
    const main = revision(Number.parseInt(item, 10));
    const deleted = item.endsWith('t');
    const kv = {
      key: new Uint8Array(0),
      value: new Uint8Array(0),
      createRevision: main,
      modRevision: main,
      version: deleted ? 0 : 1,
    };
    return { text: 'k', main, sub: 0, deleted, kv };
  });
}

describe('keptFrom: the first record compaction at C keeps', () => {
  // etcd's own example (key_index.go): put(1) put(2) tombstone(3) put(4) tombstone(5).
  const table: [string, number, number][] = [
    ['1 2 3t 4 5t', 1, 0], // keep the last at or below 1 (the put at 1)
    ['1 2 3t 4 5t', 2, 1], // {2, 3t, 4, 5t}
    ['1 2 3t 4 5t', 3, 2], // the tombstone at exactly C stays (a watcher from 3 must see it)
    ['1 2 3t 4 5t', 4, 3], // {4, 5t}
    ['1 2 3t 4 5t', 5, 4], // {5t}
    ['1 2 3t 4 5t', 6, 5], // nothing: a tombstone below C goes, and the key with it
    ['4 6', 2, 0], // nothing at or below C: keep everything
    ['2 3', 9, 1], // the live value at C stays
  ];
  it.each(table)('history %s compacted at %i keeps from index %i', (h, c, want) => {
    expect(keptFrom(history(h), c)).toBe(want);
  });
});

describe('lastAtOrBelow: the record a read at R sees', () => {
  const table: [string, number, number][] = [
    ['2 4 6', 1, -1],
    ['2 4 6', 2, 0],
    ['2 4 6', 5, 1],
    ['2 4 6', 6, 2],
    ['2 4 6', 99, 2],
  ];
  it.each(table)('history %s at %i is index %i', (h, r, want) => {
    expect(lastAtOrBelow(history(h), r)).toBe(want);
  });
});
