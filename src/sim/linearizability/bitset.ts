/**
 * The set of operations linearized so far, as the checker's memo key needs it: a fixed-size
 * bitset with an incrementally kept 64-bit Zobrist hash (two 32-bit halves), so setting or
 * clearing a bit costs O(1) and hashing the set costs nothing. The hash only picks a bucket; the
 * checker compares stored copies bit for bit, so a hash collision can never prune a search.
 */

/** 32-bit mix of `x` (the MurmurHash3 finalizer): a fixed, well-spread value per bit index. */
function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Bitset {
  readonly words: Uint32Array;
  /** Zobrist hash halves: the XOR of every set bit's two fixed values. */
  private hashLo = 0;
  private hashHi = 0;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  has(bit: number): boolean {
    return ((this.words[bit >>> 5] as number) & (1 << (bit & 31))) !== 0;
  }

  /** Flips `bit` (set when clear, clear when set) and its share of the hash. */
  toggle(bit: number): void {
    const word = bit >>> 5;
    this.words[word] = (this.words[word] as number) ^ (1 << (bit & 31));
    this.hashLo = (this.hashLo ^ mix32(2 * bit + 1)) >>> 0;
    this.hashHi = (this.hashHi ^ mix32(2 * bit + 2 + 0x9e3779b9)) >>> 0;
  }

  /** The hash as one safe integer (53 of its 64 bits), for a Map key. */
  hash(): number {
    return (this.hashHi & 0x1fffff) * 0x100000000 + this.hashLo;
  }

  copyWords(): Uint32Array {
    return this.words.slice();
  }

  equalsWords(other: Uint32Array): boolean {
    const words = this.words;
    for (let i = 0; i < words.length; i++) if (words[i] !== other[i]) return false;
    return true;
  }
}
