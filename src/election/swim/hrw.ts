/**
 * Rendezvous (highest random weight, Thaler & Ravishankar 1998) scores for `swim` mode's
 * leader: every member computes the same score for a NodeId, so members that share a live set
 * pick the same winner without talking. The hash is FNV-1a 64 over the id's ASCII: stable
 * across versions and platforms, pure, and cheap (the ids are already uniform hashes).
 */
import { compareNodeId, type NodeId } from '../../identity/node-id.js';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/** FNV-1a 64 of the id's characters, then a final avalanche so close ids spread. */
export function hrwScore(id: NodeId): bigint {
  let h = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) {
    h ^= BigInt(id.charCodeAt(i));
    h = (h * FNV_PRIME) & MASK_64;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & MASK_64;
  return h ^ (h >> 33n);
}

/** Orders by score, then by id so ties are broken the same way everywhere. Positive: a wins. */
export function compareHrw(
  a: { id: NodeId; score: bigint },
  b: { id: NodeId; score: bigint },
): number {
  if (a.score !== b.score) return a.score > b.score ? 1 : -1;
  return compareNodeId(a.id, b.id);
}

/** The HRW winner of a non-empty set of scored members. */
export function hrwWinner<T extends { id: NodeId; score: bigint }>(
  members: readonly T[],
): T | undefined {
  let best: T | undefined;
  for (const m of members) if (best === undefined || compareHrw(m, best) > 0) best = m;
  return best;
}

/** The HRW winner's id among `ids` (scored here), or undefined when there are none. */
export function hrwWinnerOf(ids: readonly NodeId[]): NodeId | undefined {
  return hrwWinner(ids.map((id) => ({ id, score: hrwScore(id) })))?.id;
}
