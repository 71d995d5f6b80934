/**
 * A seeded pseudo-random generator with an integer API (sfc32: small, fast, passes PractRand
 * to 2^40 bytes). Protocol cores take an `Rng` as an input and never call `Math.random()`.
 *
 * `fork(label)` derives a child stream from the parent's *seed* and the label only, never from
 * how many numbers the parent has drawn: adding a node or a draw somewhere does not disturb
 * any other stream, which keeps simulation traces stable as the code grows.
 */
import { assert, assertSafeInt } from './assert.js';

/** 32-bit FNV-1a over the UTF-16 code units of a label. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 finalizer: spreads a 32-bit value over all bits. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** The seed this stream was made from, as two 32-bit halves (for fork and display). */
  private readonly seedHi: number;
  private readonly seedLo: number;

  /** `seed` is any safe non-negative integer. */
  constructor(seed: number) {
    assertSafeInt(seed, 'Rng seed');
    this.seedHi = Math.floor(seed / 0x1_0000_0000) >>> 0;
    this.seedLo = seed >>> 0;
    this.a = mix32(this.seedLo);
    this.b = mix32(this.seedHi ^ 0x6a09e667);
    this.c = mix32(this.a ^ this.b ^ 0xbb67ae85);
    this.d = 1;
    // Discard the first outputs: sfc32 needs a few rounds to decorrelate close seeds.
    for (let i = 0; i < 12; i++) this.next32();
  }

  /** The seed this generator was constructed with. */
  get seed(): number {
    return this.seedHi * 0x1_0000_0000 + this.seedLo;
  }

  /** A child stream that depends only on this stream's seed and `label`. */
  fork(label: string): Rng {
    const hi = mix32(this.seedHi ^ hashLabel(label)) & 0x1f_ffff; // 21 bits: keeps the seed a safe integer
    const lo = mix32(this.seedLo ^ mix32(hashLabel(label) ^ 0x5bd1e995));
    return new Rng(hi * 0x1_0000_0000 + lo);
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  next32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, bound). `bound` is a positive safe integer up to 2^32. */
  int(bound: number): number {
    assertSafeInt(bound, 'Rng.int bound', 1, 0x1_0000_0000);
    // Rejection sampling (Lemire-style threshold) so that every value is equally likely.
    const threshold = (0x1_0000_0000 - bound) % bound;
    for (;;) {
      const x = this.next32();
      if (x >= threshold) return x % bound;
    }
  }

  /** A uniform integer in [min, max], both inclusive. */
  range(min: number, max: number): number {
    assert(max >= min, `Rng.range: max (${max}) must be >= min (${min})`);
    return min + this.int(max - min + 1);
  }

  /** True with probability numerator/denominator (integers, 0 <= numerator <= denominator). */
  chance(numerator: number, denominator: number): boolean {
    assertSafeInt(denominator, 'Rng.chance denominator', 1, 0x1_0000_0000);
    assertSafeInt(numerator, 'Rng.chance numerator', 0, denominator);
    return this.int(denominator) < numerator;
  }

  /** A uniform float in [0, 1) with 32 bits of precision; for simulator delay distributions. */
  unit(): number {
    return this.next32() / 0x1_0000_0000;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'Rng.pick: empty array');
    return items[this.int(items.length)] as T;
  }

  /** A new array with the elements of `items` in uniformly random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }
}
