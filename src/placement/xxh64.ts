/**
 * xxHash64 (Yann Collet, XXH64 as specified in xxhash's doc/xxhash_spec.md, "XXH64 algorithm"),
 * the pinned 64-bit hash of the data plane: every member computes the same ring point, rendezvous
 * score and jump-hash key for the same bytes, in every process and every version. FROZEN: changing
 * this function moves every key in every cluster; `test/placement/xxh64.test.ts` pins published
 * vectors and compares it with the reference implementation (xxhash-wasm) on random inputs.
 *
 * Why a pure-TS implementation and not a package: placement runs inside pure cores and in the
 * simulator, synchronously; the well-kept packages are WebAssembly (xxhash-wasm: instantiated
 * asynchronously, and every call copies the key into WASM memory and returns a BigInt) or native
 * (@node-rs/xxhash: a node addon, banned in cores). This one works on 32-bit halves with
 * `Math.imul`, allocates nothing per call, and hashes short keys at about the speed of
 * xxhash-wasm's (bench/placement-lookup.ts measures both).
 *
 * 64-bit values are held as two unsigned 32-bit halves (hi, lo). The result of the last call is
 * left in `XXH64_OUT` ([hi, lo]) so hot paths read it without allocating.
 */

const P1_HI = 0x9e3779b1;
const P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d;
const P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1;
const P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77;
const P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f;
const P5_LO = 0x165667c5;
/** 2^64 - P1: the fourth accumulator starts at seed - P1. */
const NEG_P1_HI = 0x61c8864e;
const NEG_P1_LO = 0x7a143579;

/** The [hi, lo] halves of the last hash computed; read right after the call. */
export const XXH64_OUT = new Uint32Array(2);

/**
 * The working 64-bit value of the helpers below: [hi, lo], in a typed array rather than module
 * variables, which would box every uint32 above 2^31 into a heap number on each write (measured:
 * 25x slower on 1 KiB keys). Other 64-bit arithmetic (jump hash's LCG) reads it after `mul64`.
 */
export const U64 = new Uint32Array(2);
export { mul as mul64, add as add64 };
const H = (): number => U64[0] as number;
const L = (): number => U64[1] as number;

/** The high 32 bits of the 64-bit product of two uint32s (16-bit limbs keep every step exact). */
function mulHi(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const mid = a1 * b0 + a0 * b1 + ((a0 * b0) >>> 16);
  return (a1 * b1 + ((mid / 0x10000) | 0)) >>> 0;
}

/** U64 = (ah:al) * (bh:bl) mod 2^64. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  U64[1] = Math.imul(al, bl);
  U64[0] = mulHi(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh);
}

/** U64 = (ah:al) + (bh:bl) mod 2^64. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  U64[1] = lo;
  U64[0] = ah + bh + (lo > 0xffffffff ? 1 : 0);
}

/** U64 = rotl64((ah:al), r) for 0 < r < 32. */
function rotl(ah: number, al: number, r: number): void {
  U64[0] = (ah << r) | (al >>> (32 - r));
  U64[1] = (al << r) | (ah >>> (32 - r));
}

/** XXH64's round on the accumulator V[i] (hi), V[i + 1] (lo): rotl(acc + lane * P2, 31) * P1. */
function round(i: number, laneh: number, lanel: number): void {
  const tl = Math.imul(lanel, P2_LO) >>> 0;
  const th = mulHi(lanel, P2_LO) + Math.imul(laneh, P2_LO) + Math.imul(lanel, P2_HI);
  const sum = (V[i + 1] as number) + tl;
  const al = sum >>> 0;
  const ah = ((V[i] as number) + th + (sum > 0xffffffff ? 1 : 0)) >>> 0;
  const rh = ((ah << 31) | (al >>> 1)) >>> 0;
  const rl = ((al << 31) | (ah >>> 1)) >>> 0;
  V[i + 1] = Math.imul(rl, P1_LO);
  V[i] = mulHi(rl, P1_LO) + Math.imul(rh, P1_LO) + Math.imul(rl, P1_HI);
}

/** Accumulators: v1..v4 as [hi, lo] pairs at 0, 2, 4, 6, and a scratch pair at 8 for single rounds. */
const V = new Uint32Array(10);

function readLo(data: Uint8Array, at: number): number {
  return (
    ((data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24)) >>>
    0
  );
}

/** round(0, lane) into U64 (the 8-byte tail and mergeRound use it). */
function roundOfZero(laneh: number, lanel: number): void {
  V[8] = 0;
  V[9] = 0;
  round(8, laneh, lanel);
  U64[0] = V[8] as number;
  U64[1] = V[9] as number;
}

/** XXH64's mergeRound: (acc ^ round(0, lane)) * P1 + P4, into U64. */
function mergeRound(hh: number, hl: number, laneh: number, lanel: number): void {
  roundOfZero(laneh, lanel);
  mul((hh ^ H()) >>> 0, (hl ^ L()) >>> 0, P1_HI, P1_LO);
  add(H(), L(), P4_HI, P4_LO);
}

/** The 32-byte stripe loop (inputs of 32 bytes or more); leaves the converged accumulator in U64. */
function stripes(data: Uint8Array, end: number, seedHi: number, seedLo: number): number {
  add(seedHi, seedLo, P1_HI, P1_LO);
  add(H(), L(), P2_HI, P2_LO);
  V[0] = H();
  V[1] = L();
  add(seedHi, seedLo, P2_HI, P2_LO);
  V[2] = H();
  V[3] = L();
  V[4] = seedHi;
  V[5] = seedLo;
  add(seedHi, seedLo, NEG_P1_HI, NEG_P1_LO);
  V[6] = H();
  V[7] = L();
  let at = 0;
  for (; at + 32 <= end; at += 32) {
    round(0, readLo(data, at + 4), readLo(data, at));
    round(2, readLo(data, at + 12), readLo(data, at + 8));
    round(4, readLo(data, at + 20), readLo(data, at + 16));
    round(6, readLo(data, at + 28), readLo(data, at + 24));
  }
  rotl(V[0] as number, V[1] as number, 1);
  let hh = H();
  let hl = L();
  for (const [i, r] of ROTATIONS) {
    rotl(V[i] as number, V[i + 1] as number, r);
    add(hh, hl, H(), L());
    hh = H();
    hl = L();
  }
  for (let i = 0; i < 8; i += 2) {
    mergeRound(hh, hl, V[i] as number, V[i + 1] as number);
    hh = H();
    hl = L();
  }
  return at;
}

/** The rotations that converge v2..v4 (v1's, by 1, starts the sum). */
const ROTATIONS: readonly (readonly [number, number])[] = [
  [2, 7],
  [4, 12],
  [6, 18],
];

/**
 * XXH64 of `data[0..length)` with a 64-bit seed given as halves; the result goes to `XXH64_OUT`.
 * `length` defaults to the whole array (callers hashing a reused scratch buffer pass it).
 */
export function xxh64Into(
  data: Uint8Array,
  length = data.length,
  seedHi = 0,
  seedLo = 0,
): Uint32Array {
  let at = 0;
  if (length >= 32) at = stripes(data, length, seedHi, seedLo);
  else add(seedHi, seedLo, P5_HI, P5_LO);
  add(H(), L(), Math.floor(length / 0x1_0000_0000), length >>> 0);
  let hh = H();
  let hl = L();
  for (; at + 8 <= length; at += 8) {
    roundOfZero(readLo(data, at + 4), readLo(data, at));
    hh = (hh ^ H()) >>> 0;
    hl = (hl ^ L()) >>> 0;
    rotl(hh, hl, 27);
    mul(H(), L(), P1_HI, P1_LO);
    add(H(), L(), P4_HI, P4_LO);
    hh = H();
    hl = L();
  }
  if (at + 4 <= length) {
    mul(0, readLo(data, at), P1_HI, P1_LO);
    hh = (hh ^ H()) >>> 0;
    hl = (hl ^ L()) >>> 0;
    rotl(hh, hl, 23);
    mul(H(), L(), P2_HI, P2_LO);
    add(H(), L(), P3_HI, P3_LO);
    hh = H();
    hl = L();
    at += 4;
  }
  for (; at < length; at++) {
    mul(0, data[at] as number, P5_HI, P5_LO);
    hh = (hh ^ H()) >>> 0;
    hl = (hl ^ L()) >>> 0;
    rotl(hh, hl, 11);
    mul(H(), L(), P1_HI, P1_LO);
    hh = H();
    hl = L();
  }
  avalanche(hh, hl);
  return XXH64_OUT;
}

/** XXH64's final mix (also the 64-bit mixer of rendezvous scores); the result goes to `XXH64_OUT`. */
export function avalanche(hh: number, hl: number): Uint32Array {
  // h ^= h >> 33
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2_HI, P2_LO);
  // h ^= h >> 29
  hl = (L() ^ ((H() << 3) | (L() >>> 29))) >>> 0;
  hh = (H() ^ (H() >>> 29)) >>> 0;
  mul(hh, hl, P3_HI, P3_LO);
  // h ^= h >> 32
  XXH64_OUT[0] = H();
  XXH64_OUT[1] = (L() ^ H()) >>> 0;
  return XXH64_OUT;
}

/** XXH64 of bytes as a BigInt (tests, display); hot paths use `xxh64Into`. */
export function xxh64(data: Uint8Array, seed = 0n): bigint {
  const out = xxh64Into(
    data,
    data.length,
    Number((seed >> 32n) & 0xffffffffn),
    Number(seed & 0xffffffffn),
  );
  return (BigInt(out[0] as number) << 32n) | BigInt(out[1] as number);
}

const textEncoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * XXH64 of a string's UTF-8 bytes into `XXH64_OUT`, without allocating for keys up to the scratch
 * size: ASCII is copied inline, anything else goes through TextEncoder.encodeInto.
 */
export function xxh64StringInto(text: string, seedHi = 0, seedLo = 0): Uint32Array {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
  let length = 0;
  for (; length < text.length; length++) {
    const c = text.charCodeAt(length);
    if (c >= 0x80) {
      length += textEncoder.encodeInto(text.slice(length), scratch.subarray(length)).written;
      break;
    }
    scratch[length] = c;
  }
  return xxh64Into(scratch, length, seedHi, seedLo);
}

/** XXH64 of a string's UTF-8 bytes as 16 lowercase hex characters. */
export function xxh64Hex(text: string): string {
  const out = xxh64StringInto(text);
  return (
    (out[0] as number).toString(16).padStart(8, '0') +
    (out[1] as number).toString(16).padStart(8, '0')
  );
}
