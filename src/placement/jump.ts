/**
 * Jump consistent hash (Lamping & Veach 2014, "A Fast, Minimal Memory, Consistent Hash
 * Algorithm", Fig. 1): maps a 64-bit key to a bucket in [0, n) with no table at all, moving only
 * 1/n of the keys when a bucket is added at the end. The buckets here are the members sorted by
 * id, so a member leaving from the middle renumbers those after it and moves far more than 1/N of
 * the keys (bench/placement-movement.ts measures it): use `jump` for a stable, numbered member
 * list, `ring` or `rendezvous` for churn. Further replicas are the next members in id order.
 */
import { assert } from '../base/assert.js';
import type { NodeId } from '../identity/node-id.js';
import { add64, mul64, U64, xxh64StringInto } from './xxh64.js';

/** The LCG multiplier of Fig. 1: 2862933555777941757 as 32-bit halves. */
const LCG_HI = 0x27bb2ee6;
const LCG_LO = 0x87b0b0fd;

/** The bucket in [0, buckets) of the 64-bit key (hi:lo), exactly as Fig. 1 computes it. */
export function jumpBucket(keyHi: number, keyLo: number, buckets: number): number {
  assert(Number.isSafeInteger(buckets) && buckets > 0, `jump buckets must be > 0, got ${buckets}`);
  let h = keyHi;
  let l = keyLo;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    mul64(h, l, LCG_HI, LCG_LO);
    add64(U64[0] as number, U64[1] as number, 0, 1);
    h = U64[0] as number;
    l = U64[1] as number;
    // (key >> 33) + 1: the top 31 bits.
    j = Math.floor((b + 1) * (2147483648 / ((h >>> 1) + 1)));
  }
  return b;
}

/** The `replicas` owners of `key` over `members` (sorted by id): its bucket, then the next ones. */
export function jumpOwners(members: readonly NodeId[], key: string, replicas: number): NodeId[] {
  const n = members.length;
  if (n === 0) return [];
  const out = xxh64StringInto(key);
  const first = jumpBucket(out[0] as number, out[1] as number, n);
  const owners: NodeId[] = [];
  for (let i = 0; i < Math.min(replicas, n); i++) owners.push(members[(first + i) % n] as NodeId);
  return owners;
}
