/**
 * The codec fuzzer, shared by test/codec/fuzz.test.ts (a bounded run in every `npm test`) and
 * bench/fuzz-codec.ts (long runs). Inputs are valid messages (from the arbitraries, seeded),
 * mutated by a seeded Rng: truncations, bit flips, byte overwrites, insertions, deletions,
 * random bytes behind a valid header, and pure noise.
 *
 * The oracle: decodeMessage never throws, a rejection carries an ERR_DECODE_* code, and an
 * accepted input is canonical: encoding the decoded message gives back exactly the input bytes.
 */
import fc from 'fast-check';
import type { Rng } from '../../src/base/rng.js';
import { decodeMessage, encodeMessage } from './wire.js';
import { arbMessage } from './arbitraries.js';

export const FUZZ_CLUSTER_ID = 'fuzz-cluster';

export interface FuzzStats {
  cases: number;
  accepted: number;
  /** Rejections by error code. */
  rejected: Record<string, number>;
  /** Descriptions of broken oracle checks (empty when the codec is sound). */
  failures: string[];
}

export function newStats(): FuzzStats {
  return { cases: 0, accepted: 0, rejected: {}, failures: [] };
}

/** `count` valid encoded messages, the same for the same seed. */
export function fuzzCorpus(seed: number, count: number): Uint8Array[] {
  return fc
    .sample(arbMessage, { seed, numRuns: count })
    .map((msg) => encodeMessage(msg, FUZZ_CLUSTER_ID));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Runs one input through the oracle and records the outcome; keeps at most 20 failure reports. */
export function checkInput(bytes: Uint8Array, stats: FuzzStats): void {
  stats.cases++;
  let failure: string | undefined;
  try {
    const result = decodeMessage(bytes, { clusterId: FUZZ_CLUSTER_ID });
    if (!result.ok) {
      stats.rejected[result.error.code] = (stats.rejected[result.error.code] ?? 0) + 1;
      if (!result.error.code.startsWith('ERR_DECODE_'))
        failure = `non-decode error code ${result.error.code}`;
    } else {
      stats.accepted++;
      if (!sameBytes(encodeMessage(result.message, FUZZ_CLUSTER_ID), bytes))
        failure = 'accepted input is not canonical: re-encoding differs';
    }
  } catch (err) {
    failure = `threw ${String(err)}`;
  }
  if (failure !== undefined && stats.failures.length < 20)
    stats.failures.push(`${failure}; input ${hexOf(bytes)}`);
}

/** Every prefix of `bytes` and every single-bit flip of it. */
export function fuzzExhaustive(bytes: Uint8Array, stats: FuzzStats): void {
  for (let length = 0; length < bytes.length; length++)
    checkInput(bytes.subarray(0, length), stats);
  const copy = bytes.slice();
  for (let i = 0; i < copy.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      copy[i] = (bytes[i] as number) ^ (1 << bit);
      checkInput(copy, stats);
    }
    copy[i] = bytes[i] as number;
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x3a, 0x5b, 0xc0, 0xed];

/** One random mutation of `base`. */
export function mutate(base: Uint8Array, rng: Rng): Uint8Array {
  const out = base.slice();
  switch (rng.int(7)) {
    case 0:
      return out.subarray(0, rng.int(out.length + 1));
    case 1:
      for (let n = rng.range(1, 4); n > 0 && out.length > 0; n--) {
        const i = rng.int(out.length);
        out[i] = (out[i] as number) ^ (1 << rng.int(8));
      }
      return out;
    case 2:
      if (out.length > 0) out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
      return out;
    case 3: {
      const at = rng.int(out.length + 1);
      const extra = Uint8Array.from({ length: rng.range(1, 8) }, () => rng.int(256));
      const grown = new Uint8Array(out.length + extra.length);
      grown.set(out.subarray(0, at));
      grown.set(extra, at);
      grown.set(out.subarray(at), at + extra.length);
      return grown;
    }
    case 4: {
      const at = rng.int(out.length + 1);
      const cut = rng.range(1, 8);
      const shrunk = new Uint8Array(Math.max(0, out.length - cut));
      shrunk.set(out.subarray(0, Math.min(at, shrunk.length)));
      shrunk.set(out.subarray(Math.min(at + cut, out.length)), Math.min(at, shrunk.length));
      return shrunk;
    }
    case 5: {
      // Keep a valid envelope head (magic .. cluster id) and randomize the payload.
      const head = 5 + FUZZ_CLUSTER_ID.length;
      const noisy = new Uint8Array(head + rng.int(96));
      noisy.set(out.subarray(0, head));
      for (let i = head; i < noisy.length; i++) noisy[i] = rng.int(256);
      return noisy;
    }
    default:
      return Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
  }
}

/** `cases` random mutations of corpus entries. */
export function fuzzRandom(
  corpus: readonly Uint8Array[],
  rng: Rng,
  cases: number,
  stats: FuzzStats,
): void {
  for (let n = 0; n < cases; n++) checkInput(mutate(rng.pick(corpus), rng), stats);
}
