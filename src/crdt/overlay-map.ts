/**
 * A Map over a shared base that is never written (docs/design/data-plane.md, "Compact replica
 * state"): reads fall through to the base, writes and deletes land in this map's own overlay, so
 * many replicas can hold one copy of what they hold alike (a simulated cluster's every member's
 * first partition, the view every member was given) and pay only for where they differ:
 * copy-on-write at the grain of one entry. Without a base it is a plain Map with one more lookup.
 *
 * Everything a Map does, it does the same, iteration order included (callers' rng draws, message
 * contents and truncation follow it): base keys keep their base position while replaced; a key
 * deleted and set again, or new, goes to the end, as in a Map. The base must not change while
 * an OverlayMap reads it: whoever builds one hands it over and keeps no writable reference.
 */

/** Marks a base key this map deleted. */
const GONE: unique symbol = Symbol('gone');

export class OverlayMap<K, V> implements Map<K, V> {
  #base: ReadonlyMap<K, V>;
  /** Base keys replaced in place (same position) or deleted (GONE). */
  readonly #replaced = new Map<K, V | typeof GONE>();
  /** Keys not in the base, and base keys deleted then set again: after the base, in order. */
  readonly #added = new Map<K, V>();
  #baseGone = 0;

  constructor(base: ReadonlyMap<K, V> = EMPTY as ReadonlyMap<K, V>) {
    this.#base = base;
  }

  /** The shared base (read only). */
  get base(): ReadonlyMap<K, V> {
    return this.#base;
  }

  /** Entries this map holds of its own (what it costs beyond the shared base). */
  get ownEntries(): number {
    return this.#replaced.size + this.#added.size;
  }

  get size(): number {
    return this.#base.size - this.#baseGone + this.#added.size;
  }

  has(key: K): boolean {
    if (this.#added.has(key)) return true;
    const r = this.#replaced.get(key);
    if (r !== undefined || this.#replaced.has(key)) return r !== GONE;
    return this.#base.has(key);
  }

  get(key: K): V | undefined {
    if (this.#added.has(key)) return this.#added.get(key);
    const r = this.#replaced.get(key);
    if (r !== undefined || this.#replaced.has(key)) return r === GONE ? undefined : r;
    return this.#base.get(key);
  }

  set(key: K, value: V): this {
    if (this.#added.has(key) || !this.#base.has(key) || this.#replaced.get(key) === GONE)
      this.#added.set(key, value);
    else this.#replaced.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (this.#added.delete(key)) return true; // a re-added base key is already GONE below
    if (!this.#base.has(key) || this.#replaced.get(key) === GONE) return false;
    this.#replaced.set(key, GONE);
    this.#baseGone++;
    return true;
  }

  clear(): void {
    this.reset(EMPTY as ReadonlyMap<K, V>);
  }

  /** Empties this map, then reads through to `base` (which the caller hands over: see above). */
  reset(base: ReadonlyMap<K, V>): void {
    this.#base = base;
    this.#added.clear();
    this.#replaced.clear();
    this.#baseGone = 0;
  }

  entries(): MapIterator<[K, V]> {
    // Without a base (a replica that shares nothing): the overlay's own iterator, at Map speed.
    if (this.#base.size === 0) return this.#added.entries();
    return this.#merged();
  }

  *#merged(): MapIterator<[K, V]> {
    if (this.#baseGone < this.#base.size)
      for (const [key, value] of this.#base) {
        const r = this.#replaced.get(key);
        if (r === undefined && !this.#replaced.has(key)) yield [key, value];
        else if (r !== GONE) yield [key, r as V];
      }
    yield* this.#added;
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  /** As a Map's, without a generator: the loop the hot paths use (digests, live peers). */
  forEach(fn: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    const replaced = this.#replaced;
    if (this.#baseGone < this.#base.size)
      for (const [key, value] of this.#base) {
        const r = replaced.size === 0 ? undefined : replaced.get(key);
        if (r === undefined) {
          if (replaced.size === 0 || !replaced.has(key)) fn.call(thisArg, value, key, this);
        } else if (r !== GONE) fn.call(thisArg, r, key, this);
      }
    for (const [key, value] of this.#added) fn.call(thisArg, value, key, this);
  }

  /**
   * Where this map differs from its base, one call per key: its value here (undefined when
   * deleted) and the base's (undefined when the base lacks it). A key deleted from the base and
   * set again is visited twice: as deleted, then as new. The values a map holds are its base's,
   * less every `before`, plus every `now`: what an order-free fold (a digest) needs.
   */
  forEachOwn(fn: (key: K, now: V | undefined, before: V | undefined) => void): void {
    for (const [key, r] of this.#replaced) fn(key, r === GONE ? undefined : r, this.#base.get(key));
    for (const [key, value] of this.#added) fn(key, value, undefined);
  }

  get [Symbol.toStringTag](): string {
    return 'OverlayMap';
  }
}

const EMPTY: ReadonlyMap<unknown, unknown> = new Map();
