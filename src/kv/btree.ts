/**
 * The B+ tree the key index and the lessor's deadlines use: sorted-btree (qwertie/btree-typescript,
 * MIT, no dependencies), a well-kept in-memory B+ tree with ordered range scans and in-place edits
 * during a scan. It is deterministic code (no time, no randomness), so a core may use it.
 *
 * Module interop: Node's ESM loader gives this CommonJS package's `module.exports` as the default
 * import (the class is its `default`), while loaders that honour `__esModule` (vitest) give the
 * class itself. Both forms are accepted here, once.
 */
import btree from 'sorted-btree';

type BTreeClass = typeof btree.default;

export const BTree: BTreeClass = (
  'default' in btree ? btree.default : (btree as unknown as BTreeClass)
) as BTreeClass;

/** A B+ tree from K to V. */
export type Tree<K, V> = InstanceType<typeof BTree<K, V>>;
