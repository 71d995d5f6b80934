/**
 * Rendezvous hashing (highest random weight, Thaler & Ravishankar 1998): a key's owners are the
 * `replicas` members with the highest score(key, member). A member leaving moves exactly the keys
 * it owned and nothing else, with no ring to build; a lookup costs O(N) instead of O(log N).
 *
 * score(key, m) = avalanche64(XXH64(key) xor XXH64(m)), with XXH64's final mix (a bijection of
 * 64-bit values), so one key hash serves every member and two members never tie on a key (their
 * hashes differ); equal member hashes, about 2^-64 odds, are ordered by id.
 */
import { compareNodeId, type NodeId } from '../identity/node-id.js';
import { avalanche, xxh64StringInto } from './xxh64.js';

/** A member with its id hash, cached by the caller. */
export interface HashedMember {
  readonly id: NodeId;
  readonly hi: number;
  readonly lo: number;
}

export function hashMember(id: NodeId): HashedMember {
  const out = xxh64StringInto(id);
  return { id, hi: out[0] as number, lo: out[1] as number };
}

/** True when score a (ah:al, id a) beats score b. */
function beats(ah: number, al: number, a: NodeId, bh: number, bl: number, b: NodeId): boolean {
  if (ah !== bh) return ah > bh;
  if (al !== bl) return al > bl;
  return compareNodeId(a, b) > 0;
}

/** The `replicas` highest-scoring members for `key`, best first. */
export function rendezvousOwners(
  members: readonly HashedMember[],
  key: string,
  replicas: number,
): NodeId[] {
  const want = Math.min(replicas, members.length);
  const keyHash = xxh64StringInto(key);
  const kh = keyHash[0] as number;
  const kl = keyHash[1] as number;
  // Insertion into a best-first list of at most `want`: replicas is small (replicasMax).
  const ids: NodeId[] = [];
  const his: number[] = [];
  const los: number[] = [];
  for (const m of members) {
    const score = avalanche((kh ^ m.hi) >>> 0, (kl ^ m.lo) >>> 0);
    const sh = score[0] as number;
    const sl = score[1] as number;
    let at = ids.length;
    while (
      at > 0 &&
      beats(sh, sl, m.id, his[at - 1] as number, los[at - 1] as number, ids[at - 1] as NodeId)
    )
      at--;
    if (at >= want) continue;
    ids.splice(at, 0, m.id);
    his.splice(at, 0, sh);
    los.splice(at, 0, sl);
    if (ids.length > want) {
      ids.pop();
      his.pop();
      los.pop();
    }
  }
  return ids;
}
