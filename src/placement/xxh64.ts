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

// The working 64-bit value of the helpers below (a register pair, to avoid allocating).
let rh = 0;
let rl = 0;

/** The register pair, read by other 64-bit arithmetic (jump hash's LCG) right after `mul64`. */
export { rh as u64Hi, rl as u64Lo, mul as mul64, add as add64 };

/** (rh:rl) = (ah:al) * (bh:bl) mod 2^64. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const low = a0 * b0;
  const mid = a1 * b0 + a0 * b1 + (low >>> 16);
  const high = a1 * b1 + Math.floor(mid / 0x10000);
  rl = Math.imul(al, bl) >>> 0;
  rh = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (rh:rl) = (ah:al) + (bh:bl) mod 2^64. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rl = lo >>> 0;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** (rh:rl) = rotl64((ah:al), r) for 0 < r < 32. */
function rotl(ah: number, al: number, r: number): void {
  rh = ((ah << r) | (al >>> (32 - r))) >>> 0;
  rl = ((al << r) | (ah >>> (32 - r))) >>> 0;
}

/** XXH64's round: rotl(acc + lane * P2, 31) * P1, into (rh:rl). */
function round(acch: number, accl: number, laneh: number, lanel: number): void {
  mul(laneh, lanel, P2_HI, P2_LO);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1_HI, P1_LO);
}

function readLo(data: Uint8Array, at: number): number {
  return (
    ((data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24)) >>>
    0
  );
}

/** The 32-byte stripe loop (inputs of 32 bytes or more); leaves the converged accumulator in (rh:rl). */
function stripes(data: Uint8Array, end: number, seedHi: number, seedLo: number): number {
  add(seedHi, seedLo, P1_HI, P1_LO);
  add(rh, rl, P2_HI, P2_LO);
  let v1h = rh;
  let v1l = rl;
  add(seedHi, seedLo, P2_HI, P2_LO);
  let v2h = rh;
  let v2l = rl;
  let v3h = seedHi;
  let v3l = seedLo;
  add(seedHi, seedLo, NEG_P1_HI, NEG_P1_LO);
  let v4h = rh;
  let v4l = rl;
  let at = 0;
  for (; at + 32 <= end; at += 32) {
    round(v1h, v1l, readLo(data, at + 4), readLo(data, at));
    v1h = rh;
    v1l = rl;
    round(v2h, v2l, readLo(data, at + 12), readLo(data, at + 8));
    v2h = rh;
    v2l = rl;
    round(v3h, v3l, readLo(data, at + 20), readLo(data, at + 16));
    v3h = rh;
    v3l = rl;
    round(v4h, v4l, readLo(data, at + 28), readLo(data, at + 24));
    v4h = rh;
    v4l = rl;
  }
  rotl(v1h, v1l, 1);
  let hh = rh;
  let hl = rl;
  rotl(v2h, v2l, 7);
  add(hh, hl, rh, rl);
  hh = rh;
  hl = rl;
  rotl(v3h, v3l, 12);
  add(hh, hl, rh, rl);
  hh = rh;
  hl = rl;
  rotl(v4h, v4l, 18);
  add(hh, hl, rh, rl);
  hh = rh;
  hl = rl;
  const lanes = [v1h, v1l, v2h, v2l, v3h, v3l, v4h, v4l];
  for (let i = 0; i < 8; i += 2) {
    round(0, 0, lanes[i] as number, lanes[i + 1] as number);
    hh = (hh ^ rh) >>> 0;
    hl = (hl ^ rl) >>> 0;
    mul(hh, hl, P1_HI, P1_LO);
    add(rh, rl, P4_HI, P4_LO);
    hh = rh;
    hl = rl;
  }
  rh = hh;
  rl = hl;
  return at;
}

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
  add(rh, rl, Math.floor(length / 0x1_0000_0000), length >>> 0);
  let hh = rh;
  let hl = rl;
  for (; at + 8 <= length; at += 8) {
    round(0, 0, readLo(data, at + 4), readLo(data, at));
    hh = (hh ^ rh) >>> 0;
    hl = (hl ^ rl) >>> 0;
    rotl(hh, hl, 27);
    mul(rh, rl, P1_HI, P1_LO);
    add(rh, rl, P4_HI, P4_LO);
    hh = rh;
    hl = rl;
  }
  if (at + 4 <= length) {
    mul(0, readLo(data, at), P1_HI, P1_LO);
    hh = (hh ^ rh) >>> 0;
    hl = (hl ^ rl) >>> 0;
    rotl(hh, hl, 23);
    mul(rh, rl, P2_HI, P2_LO);
    add(rh, rl, P3_HI, P3_LO);
    hh = rh;
    hl = rl;
    at += 4;
  }
  for (; at < length; at++) {
    mul(0, data[at] as number, P5_HI, P5_LO);
    hh = (hh ^ rh) >>> 0;
    hl = (hl ^ rl) >>> 0;
    rotl(hh, hl, 11);
    mul(rh, rl, P1_HI, P1_LO);
    hh = rh;
    hl = rl;
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
  hl = (rl ^ ((rh << 3) | (rl >>> 29))) >>> 0;
  hh = (rh ^ (rh >>> 29)) >>> 0;
  mul(hh, hl, P3_HI, P3_LO);
  // h ^= h >> 32
  XXH64_OUT[0] = rh;
  XXH64_OUT[1] = (rl ^ rh) >>> 0;
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
